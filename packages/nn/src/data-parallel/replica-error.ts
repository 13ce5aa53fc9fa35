import { PicoError } from "@pico/core";

/** A replica's failure, as the calling thread sees it: which replica, and its own error's name and message. */
export class ReplicaError extends PicoError {
  override name = "ReplicaError";

  /**
   * True when the failed step is a trainStep whose `optimizer.step()` had already run on the calling
   * thread (it records the update before every replica's gradient sum is in): counters the optimizer
   * keeps, such as Adam's step count, advanced, even where no parameter was updated, so the step must
   * not be run again as if nothing had happened. False for every other failure.
   */
  optimizerStepped = false;

  constructor(
    message: string,
    /** The replica's number: 1 for the first worker (0 is the calling thread). */
    readonly replica: number,
  ) {
    super(message);
  }
}
