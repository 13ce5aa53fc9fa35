import type { FloatArray, Tensor } from "@pico/core";
import { Adam, type AdamGroupOptions, type AdamOptions, type ParamGroup } from "@pico/optim";

/**
 * Adam that, after handing each parameter's update over, waits (up to 5 s) until `claimed(control)` says
 * the replicas have taken the update's chunks recorded so far: in DataParallel.trainStep the calling
 * thread claims none while it still records, so the replicas run them, whatever the two threads' speeds.
 * It keeps no gradient and declares both of Adam's flags, so it takes Adam's paths (split, and each .grad
 * read without taking it).
 */
export class PatientAdam extends Adam {
  static override splittableStep = true;
  static override stepKeepsNoGrad = true;

  constructor(
    params: Iterable<Tensor>,
    options: AdamOptions,
    private readonly control: () => Int32Array,
    private readonly claimed: (control: Int32Array) => boolean,
  ) {
    super(params, options);
  }

  protected override updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<AdamGroupOptions>): void {
    super.updateParameter(param, p, g, group);
    const deadline = Date.now() + 5000;
    while (!this.claimed(this.control()) && Date.now() < deadline);
  }
}
