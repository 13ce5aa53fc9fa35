import { PicoError } from "@pico/core";

/** A replica's failure, as the calling thread sees it: which replica, and its own error's name and message. */
export class ReplicaError extends PicoError {
  override name = "ReplicaError";

  constructor(
    message: string,
    /** The replica's number: 1 for the first worker (0 is the calling thread). */
    readonly replica: number,
  ) {
    super(message);
  }
}
