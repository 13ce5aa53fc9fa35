import { ArgumentError, type Tensor } from "@pico/core";
import { addRelu } from "../functional/add-relu.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";

export interface AddReLUOptions {
  /** Write relu(a + b) into a's buffer (F.addRelu's `inplace`, torchvision's `out += identity; relu(out)`). Default false. */
  inplace?: boolean;
}

/**
 * relu(a + b) (F.addRelu) as a module, a residual block's end, as PyTorch's `FloatFunctional.add_relu` in
 * torchvision's quantizable ResNet: named in a fused group after the block's last Conv2d and BatchNorm2d
 * (`fuseModules(block, [["conv2", "bn2", "addRelu"]])`), the BatchNorm adds b and rectifies as it writes
 * (fusion/patterns.ts). No parameters. Shape: a and b broadcast → the broadcast shape.
 */
export class AddReLU extends Module<[Tensor, Tensor], Tensor> {
  static override keepsNoReferences = true;
  readonly inplace: boolean;

  constructor(options: AddReLUOptions = {}) {
    super();
    checkOptions("AddReLU", options, ["inplace"]);
    const inplace = options.inplace ?? false;
    if (typeof inplace !== "boolean") throw new ArgumentError(`AddReLU: inplace must be a boolean, but got ${typeof inplace} ${String(inplace)}`);
    this.inplace = inplace;
  }

  forward(a: Tensor, b: Tensor): Tensor {
    return addRelu(a, b, { inplace: this.inplace });
  }

  override extraRepr(): string {
    return this.inplace ? "inplace=true" : "";
  }
}
