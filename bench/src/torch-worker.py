"""PyTorch as a peer in the bench: the same networks, weights, batches and measurements as
measure.ts, in its own process (run with /usr/bin/python3, which has torch 1.13).

    torch-worker.py --workload FILE --threads N [--warmup N --max-warmup N --max-warmup-seconds S --settle-steps N --steps N --min-timed-seconds S --infer-count N --infer-reps N] [--profile]

Prints one line `BENCH-RESULT {json}` on stdout: the fields of measure.ts's Measurement, or with
--profile the per-operator times of the autograd profiler (torch-profile.ts reads them).
"""

import argparse
import json
import math
import resource
import struct
import sys
import time

import torch
from torch import nn

MAGIC = b"PICOBENCH2"
RESULT_PREFIX = "BENCH-RESULT "
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def fail(message):
    print(f"torch-worker: {message}", file=sys.stderr)
    sys.exit(2)


def read_workload(path):
    """Reads workload.ts's file (magic, u32 header length, JSON header, 4-byte aligned blocks) into one buffer."""
    with open(path, "rb") as f:
        prefix = f.read(len(MAGIC) + 4)
        if len(prefix) < len(MAGIC) + 4 or prefix[: len(MAGIC)] != MAGIC:
            fail(f"{path} is not a benchmark workload file (bad magic)")
        (json_length,) = struct.unpack_from("<I", prefix, len(MAGIC))
        header = json.loads(f.read(json_length).decode("utf8"))
        start = (len(MAGIC) + 4 + json_length + 3) // 4 * 4
        data = bytearray(header["totalBytes"])
        f.seek(start)
        if f.readinto(memoryview(data)) != len(data):
            fail(f"{path} ends before the data its header promises")

    def block(offset, count, dtype):
        return torch.frombuffer(data, dtype=dtype, count=count, offset=offset)

    image_size = 1
    for d in header["imageShape"]:
        image_size *= d
    train_count = header["numBatches"] * header["batchSize"]
    return {
        "network": header["network"],
        "imageShape": header["imageShape"],
        "weights": {w["name"]: block(w["offset"], w["length"], torch.float32).view(w["shape"]) for w in header["weights"]},
        "batchSize": header["batchSize"],
        "numBatches": header["numBatches"],
        "trainImages": block(header["trainImages"], train_count * image_size, torch.float32).view([train_count, *header["imageShape"]]),
        "trainLabels": block(header["trainLabels"], train_count, torch.int32).long(),
        "inferBatch": header["inferBatch"],
        "inferImages": block(header["inferImages"], header["inferBatch"] * image_size, torch.float32).view([header["inferBatch"], *header["imageShape"]]),
    }


def reference_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 10),
    )


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1)


def batch_norm(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class ResidualBlock(nn.Module):
    """y = ReLU(x + BN(Conv(ReLU(BN(Conv(x)))))), as torchvision's BasicBlock."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = conv3x3(c, c)
        self.bn1 = batch_norm(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(c, c)
        self.bn2 = batch_norm(c)

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        return self.relu(x + self.bn2(self.conv2(h)))


class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv3x3(3, 32), batch_norm(32), nn.ReLU(inplace=True),
            conv3x3(32, 32), batch_norm(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            conv3x3(32, 64), batch_norm(64), nn.ReLU(inplace=True),
            ResidualBlock(64),
            nn.MaxPool2d(2),
            conv3x3(64, 128), batch_norm(128), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(128, 10)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def build(workload):
    if workload["network"] == "reference":
        model = reference_model()
        optimizer_of = lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    elif workload["network"] == "cifar":
        model = CifarNet()
        optimizer_of = lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9)
    else:
        fail(f"unknown network {workload['network']!r} in the workload")
    weights = workload["weights"]
    result = model.load_state_dict({k: v.clone() for k, v in weights.items()}, strict=False)
    parameter_names = {name for name, _ in model.named_parameters()}
    missing = [k for k in result.missing_keys if k in parameter_names]
    if missing or result.unexpected_keys:
        fail(f"the workload's weights do not match the {workload['network']} model (missing {missing}, unexpected {result.unexpected_keys})")
    return model, optimizer_of(model.parameters())


class Network:
    def __init__(self, workload):
        self.model, self.optimizer = build(workload)
        self.criterion = nn.CrossEntropyLoss()

    def loss(self, images, labels):
        self.model.eval()
        with torch.no_grad():
            return self.criterion(self.model(images), labels).item()

    def train_step(self, images, labels):
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.criterion(self.model(images), labels)
        value = loss.item()
        loss.backward()
        self.optimizer.step()
        return value

    def predict(self, images):
        self.model.eval()
        with torch.inference_mode():
            return self.model(images)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(workload, step):
    i = step % workload["numBatches"]
    n = workload["batchSize"]
    return workload["trainImages"][i * n : (i + 1) * n], workload["trainLabels"][i * n : (i + 1) * n]


# steady-warmup.ts's rule, so that every system warms up alike.
STEADY_GAIN = 0.03


def is_steady(window_seconds):
    m = len(window_seconds)
    if m < 3:
        return False
    return min(window_seconds[m - 2], window_seconds[m - 1]) >= (1 - STEADY_GAIN) * min(window_seconds[: m - 2])


def repeat_timed(count, seconds, body):
    """Calls body(i) for i = 0, 1, ... at least count times, and on until seconds have passed since it began;
    returns how many calls it made and what the last one returned."""
    start = time.perf_counter()
    n, last = 0, None
    while n < count or time.perf_counter() - start < seconds:
        last = body(n)
        n += 1
    return n, last


def measure(net, workload, args):
    first = batch(workload, 0)
    first_loss = net.loss(*first)
    losses = [net.train_step(*batch(workload, i)) for i in range(args.warmup)]
    loss_after_warmup = net.loss(*first)
    windows = []
    while len(losses) + args.steps <= args.max_warmup and sum(windows) < args.max_warmup_seconds and not (len(losses) >= args.settle_steps and is_steady(windows)):
        start = time.perf_counter()
        for _ in range(args.steps):
            losses.append(net.train_step(*batch(workload, len(losses))))
        windows.append(time.perf_counter() - start)
    warmed_up = len(losses)
    c0, t0 = time.process_time(), time.perf_counter()
    timed_steps, _ = repeat_timed(args.steps, args.min_timed_seconds, lambda i: losses.append(net.train_step(*batch(workload, warmed_up + i))))
    train_seconds = time.perf_counter() - t0
    train_cpu = time.process_time() - c0
    peak_train = peak_rss_mb()
    loss_after = net.loss(*first)

    images = workload["inferImages"][: args.infer_count]
    net.predict(images)
    c1, t1 = time.process_time(), time.perf_counter()
    timed_calls, logits = repeat_timed(args.infer_reps, args.min_timed_seconds, lambda _: net.predict(images))
    infer_seconds = time.perf_counter() - t1
    infer_cpu = time.process_time() - c1
    checksum = float(logits.sum())
    train_images = timed_steps * workload["batchSize"]
    return {
        "firstLoss": first_loss,
        "lossAfterTraining": loss_after,
        "lossAfterWarmup": loss_after_warmup,
        "warmupSteps": warmed_up,
        "warmupWindows": [args.steps * workload["batchSize"] / s for s in windows],
        "stepLosses": losses,
        "trainSteps": timed_steps,
        "trainImages": train_images,
        "trainSeconds": train_seconds,
        "trainImagesPerSec": train_images / train_seconds,
        "trainCpuSeconds": train_cpu,
        "inferCount": args.infer_count,
        "inferReps": timed_calls,
        "inferSeconds": infer_seconds,
        "inferImagesPerSec": args.infer_count * timed_calls / infer_seconds,
        "inferCpuSeconds": infer_cpu,
        "peakRssTrainMB": peak_train,
        "peakRssMB": peak_rss_mb(),
        "inferChecksum": checksum,
    }


def op_table(prof, passes):
    """Self CPU time per operator and pass, largest first (ms)."""
    rows = []
    for e in prof.key_averages():
        if e.self_cpu_time_total <= 0:
            continue
        rows.append({"op": e.key, "calls": e.count / passes, "selfMs": e.self_cpu_time_total / 1000 / passes})
    rows.sort(key=lambda r: -r["selfMs"])
    return rows


def profile(net, workload, args):
    from torch.autograd import profiler

    for i in range(args.warmup):
        net.train_step(*batch(workload, i))
    t0 = time.perf_counter()
    with profiler.profile() as prof:
        for i in range(args.steps):
            net.train_step(*batch(workload, args.warmup + i))
    step_ms = (time.perf_counter() - t0) * 1000 / args.steps
    train_ops = op_table(prof, args.steps)
    images = workload["inferImages"][: args.infer_count]
    net.predict(images)
    t1 = time.perf_counter()
    with profiler.profile() as prof:
        for _ in range(args.infer_reps):
            net.predict(images)
    infer_ms = (time.perf_counter() - t1) * 1000 / args.infer_reps
    return {
        "network": workload["network"],
        "threads": torch.get_num_threads(),
        "trainSteps": args.steps,
        "stepMs": step_ms,
        "trainOps": train_ops,
        "inferCount": args.infer_count,
        "inferCalls": args.infer_reps,
        "inferMs": infer_ms,
        "inferOps": op_table(prof, args.infer_reps),
    }


def main():
    parser = argparse.ArgumentParser(prog="torch-worker.py", description="PyTorch peer of the Pico.ts bench workers")
    parser.add_argument("--workload", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-warmup", type=int, default=None)
    parser.add_argument("--max-warmup-seconds", type=float, default=float("inf"))
    parser.add_argument("--settle-steps", type=int, default=None)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--min-timed-seconds", type=float, default=0.0)
    parser.add_argument("--infer-count", type=int, default=1000)
    parser.add_argument("--infer-reps", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for name in ("threads", "steps", "infer_count", "infer_reps"):
        if getattr(args, name) < 1:
            fail(f"--{name.replace('_', '-')} must be >= 1, but got {getattr(args, name)}")
    if args.warmup < 0:
        fail(f"--warmup must be >= 0, but got {args.warmup}")
    if args.max_warmup is None:
        args.max_warmup = args.warmup
    if args.settle_steps is None:
        args.settle_steps = args.warmup
    if args.max_warmup < args.warmup:
        fail(f"--max-warmup must be at least --warmup ({args.warmup}), but got {args.max_warmup}")
    if not (args.min_timed_seconds >= 0 and math.isfinite(args.min_timed_seconds)):
        fail(f"--min-timed-seconds must be a non-negative number of seconds, but got {args.min_timed_seconds}")
    if not args.max_warmup_seconds > 0:
        fail(f"--max-warmup-seconds must be a positive number of seconds, but got {args.max_warmup_seconds}")
    if args.profile and args.max_warmup != args.warmup:
        fail("--max-warmup is not supported with --profile (the profile warms up a fixed --warmup steps)")
    if args.profile and args.min_timed_seconds > 0:
        fail("--min-timed-seconds is not supported with --profile (the profile times a fixed --steps steps)")
    torch.set_num_threads(args.threads)
    workload = read_workload(args.workload)
    if args.infer_count > workload["inferBatch"]:
        fail(f"--infer-count must be at most the workload's inference batch {workload['inferBatch']}, but got {args.infer_count}")
    net = Network(workload)
    if args.profile:
        result = profile(net, workload, args)
    else:
        result = {
            "system": "torch",
            "info": {"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available()},
            **measure(net, workload, args),
        }
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
