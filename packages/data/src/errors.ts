import { PicoError } from "@pico/core";

/** An IDX file that is not what its header says: wrong magic, unknown type code, wrong length, broken gzip. */
export class IdxFormatError extends PicoError {
  override name = "IdxFormatError";
}

/** A safetensors file or checkpoint that cannot be read, or whose contents do not fit the model. */
export class CheckpointError extends PicoError {
  override name = "CheckpointError";
  /** One line per difference, when the error is about a state dict that does not match. */
  readonly differences: readonly string[];

  constructor(message: string, differences: readonly string[] = []) {
    super(message);
    this.differences = differences;
  }
}

/** A data set that cannot be built: missing folder or files, inconsistent contents. */
export class DatasetError extends PicoError {
  override name = "DatasetError";
}

/** An image file that cannot be read or written. */
export class ImageError extends PicoError {
  override name = "ImageError";
}

/** A picture that holds no digit to read: blank, uniform, or fully transparent. */
export class NoInkError extends PicoError {
  override name = "NoInkError";
  /** How far (0..1) the pixel furthest from the page departs from it... */
  readonly contrast: number;
  /** ...and how far a digit's ink must (more on a noisy page). */
  readonly required: number;

  constructor(message: string, contrast: number, required: number) {
    super(message);
    this.contrast = contrast;
    this.required = required;
  }
}
