import { Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { fuseModules, unfuseModules } from "./fusion/fuse-modules.js";
import { keepsNoReferences } from "./keeps-no-references.js";
import { BatchNorm2d } from "./layers/batch-norm2d.js";
import { Conv2d } from "./layers/conv2d.js";
import { ReLU } from "./layers/relu.js";
import { Sequential } from "./layers/sequential.js";
import { CifarNet, CifarResidualBlock } from "./models/cifar-net.js";
import { Module } from "./module.js";

/** A user's module that promises its forward keeps nothing. */
class Scale extends Module {
  static override keepsNoReferences = true;
  forward(input: Tensor): Tensor {
    return this.scaled(input);
  }
  scaled(input: Tensor): Tensor {
    return input.mul(2);
  }
}

/** Overrides only what forward calls, and keeps its input there: the base class's promise must not cover it. */
class ScaleKeepingInput extends Scale {
  kept: Tensor | null = null;
  override scaled(input: Tensor): Tensor {
    this.kept = input;
    return input.mul(2);
  }
}

/** Overrides forward and repeats the promise: its own. */
class ScaleTwice extends Scale {
  static override keepsNoReferences = true;
  override forward(input: Tensor): Tensor {
    return input.mul(4);
  }
}

class ReLUSubclass extends ReLU {
  override forward(input: Tensor): Tensor {
    return input.relu();
  }
}

/** Declares the promise but holds a child that never made it. */
class Holder extends Module {
  static override keepsNoReferences = true;
  readonly inner = new (class Undeclared extends Module {
    forward(input: Tensor): Tensor {
      return input;
    }
  })();
  forward(input: Tensor): Tensor {
    return this.inner.forward(input);
  }
}

describe("keepsNoReferences", () => {
  it("holds for the built-in layers, Sequential, CifarNet and a user's module that declare it; not for a plain Module", () => {
    expect(keepsNoReferences(new Conv2d(1, 2, 3))).toBe(true);
    expect(keepsNoReferences(new BatchNorm2d(2))).toBe(true);
    expect(keepsNoReferences(new Sequential(new Conv2d(1, 2, 3), new ReLU()))).toBe(true);
    expect(keepsNoReferences(new CifarNet())).toBe(true);
    expect(keepsNoReferences(new Scale())).toBe(true);
    expect(keepsNoReferences(new Holder().inner)).toBe(false);
    expect(keepsNoReferences("Conv2d")).toBe(false);
  });

  it("is not inherited: a subclass that overrides forward, or only what forward calls, must declare it again", () => {
    expect(keepsNoReferences(new ReLUSubclass())).toBe(false);
    expect(keepsNoReferences(new ScaleKeepingInput())).toBe(false);
    expect(keepsNoReferences(new ScaleTwice())).toBe(true);
  });

  it("fails for a forward patched onto the instance, and for a module holding any submodule without the promise", () => {
    const patched = new ReLU();
    patched.forward = (input: Tensor): Tensor => input;
    expect(keepsNoReferences(patched)).toBe(false);
    expect(keepsNoReferences(new Sequential(new ReLU(), patched))).toBe(false);
    expect(keepsNoReferences(new Sequential(new Sequential(new ScaleKeepingInput())))).toBe(false);
    expect(keepsNoReferences(new Holder())).toBe(false);
  });

  it("holds for modules whose forward fuseModules installed (they compute their classes' forwards), and after unfuseModules", () => {
    const block = new CifarResidualBlock(4);
    expect(Object.prototype.hasOwnProperty.call(block.conv1, "forward")).toBe(true);
    expect(keepsNoReferences(block)).toBe(true);
    class Plain extends Module {
      static override keepsNoReferences = true;
      readonly conv = new Conv2d(1, 2, 3);
      readonly bn = new BatchNorm2d(2);
      forward(input: Tensor): Tensor {
        return this.bn.forward(this.conv.forward(input));
      }
    }
    const plain = fuseModules(new Plain(), [["conv", "bn"]]);
    expect(keepsNoReferences(plain)).toBe(true);
    expect(keepsNoReferences(unfuseModules(plain))).toBe(true);
  });
  it("answers for the tree as it is now: a child assigned, replaced or removed after an earlier answer; shared and cyclic trees", () => {
    const model = new Sequential(new Conv2d(1, 2, 3), new ReLU());
    expect(keepsNoReferences(model)).toBe(true);
    const tree = model as unknown as Record<string, unknown>;
    tree["extra"] = new Holder();
    expect(keepsNoReferences(model)).toBe(false);
    tree["extra"] = new Scale();
    expect(keepsNoReferences(model)).toBe(true);
    model.registerModule("1", new ReLUSubclass());
    expect(keepsNoReferences(model)).toBe(false);
    model.registerModule("1", new ReLU());
    const shared = new Scale();
    tree["a"] = shared;
    tree["b"] = shared;
    tree["loop"] = model;
    expect(keepsNoReferences(model)).toBe(true);
    (shared as unknown as Record<string, unknown>)["inner"] = new ScaleKeepingInput();
    expect(keepsNoReferences(model)).toBe(false);
  });
});
