// A replica script for the data-parallel tests: plain JavaScript, so worker_threads can start it; it loads
// @pico/nn's built dist (the tests check that the dist is not older than the sources). mnist-web's
// parallel-train-step.test.ts starts it too, by its path, for its "sum-fails" model (a sum cannot be made to
// fail through a public entry point): moving or renaming this file or that case means updating that test.
import { workerData } from "node:worker_threads";
import { Tensor, kernels } from "@pico/core";
import { BatchNorm1d, BatchNorm2d, Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, referenceCnn } from "@pico/nn";
import { serveReplica } from "@pico/nn/data-parallel";
import { GradientSum } from "../../../dist/data-parallel/gradient-sum.js";

/** Throws on a shard of 4 rows (the worker's shard of a batch of 7 over 2 replicas). */
class Bomb extends Module {
  forward(x) {
    if (x.shape[0] === 4) throw new RangeError("bomb: a shard of 4 rows");
    return x;
  }
}

/** Sleeps 5 s on a shard of 4 rows: a replica that does not answer in time. */
class Sleeper extends Module {
  forward(x) {
    if (x.shape[0] === 4) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
    return x;
  }
}

/** Naps 900 ms on a shard of 4 rows, then goes on: a replica that finishes after stepTimeoutMs gave up. */
class Napper extends Module {
  forward(x) {
    if (x.shape[0] === 4) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 900);
    return x;
  }
}

/** Ends its worker thread with code 3 on a shard of 4 rows. */
class Exiter extends Module {
  forward(x) {
    if (x.shape[0] === 4) process.exit(3);
    return x;
  }
}

/** On its first call only: naps 200 ms (so the calling thread claims the next chunk) and appends a column of zeros (an output shape the calling thread's model never gives). */
class WidenOnce extends Module {
  constructor() {
    super();
    this.calls = 0;
  }
  forward(x) {
    if (this.calls++ > 0) return x;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    return Tensor.cat([x, Tensor.zeros([x.shape[0], 1])], 1);
  }
}

/** Two BatchNorm layers, run in the other order on a shard of 4 rows: replicas whose exchanges differ. */
class Swap extends Module {
  constructor() {
    super();
    this.a = new BatchNorm2d(4);
    this.b = new BatchNorm2d(4);
  }
  forward(x) {
    return x.shape[0] === 4 ? this.a.forward(this.b.forward(x)) : this.b.forward(this.a.forward(x));
  }
}

/** A small conv + BatchNorm network (data-parallel.test.ts builds the same), with `middle` between its two convolutions. */
function batchNormNet(middle) {
  return new Sequential(
    new Conv2d(1, 4, 5), new BatchNorm2d(4), new ReLU(), new MaxPool2d(4), middle,
    new Conv2d(4, 8, 3), new BatchNorm2d(8), new ReLU(), new Flatten(), new Linear(128, 16), new BatchNorm1d(16), new ReLU(), new Linear(16, 10),
  );
}

/** batchNormNet whose output carries two more columns: the versions this thread sees of the first convolution's weight and the first BatchNorm's running mean. */
class VersionProbe extends Module {
  constructor() {
    super();
    this.net = batchNormNet(new Sequential());
  }
  forward(x) {
    const y = this.net.forward(x);
    const n = y.shape[0];
    return Tensor.cat([y, Tensor.full([n, 1], this.net.at(0).weight.version), Tensor.full([n, 1], this.net.at(1).running_mean.version)], 1);
  }
}

serveReplica(() => {
  const loss = new CrossEntropyLoss();
  switch (workerData.model) {
    case "reference":
      return { model: referenceCnn(), loss };
    case "reference-slow": {
      // The reference network napping 3 ms before every forward: the calling thread claims most chunks.
      const model = referenceCnn();
      const forward = model.forward.bind(model);
      model.forward = (x) => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3);
        return forward(x);
      };
      return { model, loss };
    }
    case "bomb":
      return { model: new Sequential(new Bomb(), referenceCnn()), loss };
    case "sleeper":
      return { model: new Sequential(new Sleeper(), referenceCnn()), loss };
    case "sum-fails": {
      // The reference network whose replica's gradient sum throws in its third step (sumSlices is plain
      // arithmetic: this stands for any failure there).
      const sumSlices = GradientSum.prototype.sumSlices;
      let sums = 0;
      GradientSum.prototype.sumSlices = function (...args) {
        if (++sums === 3) throw new RangeError("sum-fails: the third sum refused");
        return sumSlices.apply(this, args);
      };
      return { model: referenceCnn(), loss };
    }
    case "late-sum-fails": {
      // The reference network whose replica's first gradient sum throws after 50 ms: in Adam's first step
      // (every call deferred) the calling thread has by then stopped waiting for the sums.
      const sumSlices = GradientSum.prototype.sumSlices;
      let sums = 0;
      GradientSum.prototype.sumSlices = function (...args) {
        if (++sums === 1) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          throw new RangeError("late-sum-fails: the first sum refused");
        }
        return sumSlices.apply(this, args);
      };
      return { model: referenceCnn(), loss };
    }
    case "bad-kernel":
      kernels.optimizerKernels.override({
        sgd() { throw new RangeError("bad kernel: sgd refused"); },
        adam() { throw new RangeError("bad kernel: adam refused"); },
      });
      return { model: referenceCnn(), loss };
    case "widen-once":
      return { model: new Sequential(new Sequential(), referenceCnn(), new WidenOnce()), loss };
    case "napper":
      return { model: new Sequential(new Napper(), referenceCnn()), loss };
    case "exiter":
      return { model: new Sequential(new Exiter(), referenceCnn()), loss };
    case "batch-norm":
      return { model: batchNormNet(new Sequential()), loss };
    case "batch-norm-float64":
      return { model: batchNormNet(new Sequential()).to("float64"), loss };
    case "batch-norm-bomb":
      return { model: batchNormNet(new Bomb()), loss };
    case "batch-norm-sleeper":
      return { model: batchNormNet(new Sleeper()), loss };
    case "batch-norm-swapped":
      return { model: batchNormNet(new Swap()), loss };
    case "batch-norm-exiter":
      return { model: batchNormNet(new Exiter()), loss };
    case "versions":
      return { model: new VersionProbe(), loss };
    case "batch-norm-untracked":
      return { model: new Sequential(new Conv2d(1, 4, 5), new BatchNorm2d(4, { trackRunningStats: false }), new ReLU(), new MaxPool2d(4), new Flatten(), new Linear(144, 10)), loss };
    case "narrow": {
      const model = referenceCnn();
      return { model: new Sequential(...[...model].slice(0, 7), new Linear(256, 100), new ReLU(), new Linear(100, 10)), loss };
    }
    default:
      throw new Error(`no model named ${workerData.model}`);
  }
});
