// The runtime-neutral entry (`@pico/data/bytes`): everything here works from a Uint8Array in a browser, a
// Web Worker, Deno or Node; nothing in its import graph touches the file system, sharp or node: modules.
export { IdxFormatError, CheckpointError, DatasetError, ImageError, NoInkError } from "./errors.js";
export { readIdxBuffer, encodeIdx } from "./idx-bytes.js";
export type { IdxArray, IdxData, IdxDType } from "./idx-bytes.js";
export { encodeSafetensors, decodeSafetensors } from "./safetensors-bytes.js";
export type { EncodeSafetensorsOptions, SafetensorsContents, SafetensorsWriteDType, TensorMap } from "./safetensors-bytes.js";
export { encodeCheckpoint, decodeCheckpoint, checkStateDictCompatible } from "./checkpoint-bytes.js";
export type { Checkpoint, CheckpointState } from "./checkpoint-bytes.js";
export { TensorDataset, Subset, sampleInto } from "./dataset.js";
export type { Dataset, Sample } from "./dataset.js";
export { DataLoader } from "./data-loader.js";
export type { Batch, DataLoaderOptions } from "./data-loader.js";
export { applyTransform } from "./transforms/transform.js";
export type { Transform } from "./transforms/transform.js";
export { compose } from "./transforms/compose.js";
export { normalize } from "./transforms/normalize.js";
export { randomAffine, warpAffine } from "./transforms/random-affine.js";
export type { AffineParams, RandomAffineOptions } from "./transforms/random-affine.js";
export { MnistDigits } from "./mnist-digits.js";
export type { MnistDigitsOptions } from "./mnist-digits.js";
export { MNIST_MEAN, MNIST_STD } from "./mnist-normalization.js";
export { mnistDigitFromPixels, MIN_INK_CONTRAST } from "./mnist-digit.js";
export type { MnistDigitOptions, PixelImage } from "./mnist-digit.js";
