import { statSync } from "node:fs";
import { ImageError, NoInkError } from "./errors.js";
import { type MnistDigitOptions, mnistDigitFromPixels, noInkMessage } from "./mnist-digit.js";
import { loadSharp } from "./sharp-loader.js";

/**
 * Reads a picture of one digit (a PNG, JPEG, WebP, GIF, TIFF or SVG file, or such a file's bytes) and
 * returns what an MNIST network was trained on: see mnistDigitFromPixels, which does the work on the
 * decoded pixels. The EXIF orientation of photos is applied; alpha is kept, so a canvas export whose ink is
 * only in its alpha channel reads as drawn.
 *
 * A missing file, a folder, or bytes that are not an image throw an ImageError naming the file; a blank
 * or uniform picture throws a NoInkError.
 */
export async function mnistDigitFromImage(source: string | Uint8Array, options: MnistDigitOptions = {}): Promise<Float32Array> {
  const name = typeof source === "string" ? source : "the image bytes";
  if (typeof source === "string") checkFile(source);
  const sharp = await loadSharp();
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    decoded = await sharp(source).rotate().toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new ImageError(`mnistDigitFromImage: cannot decode ${name} as an image (${(error as Error).message})`);
  }
  const { data, info } = decoded;
  try {
    return mnistDigitFromPixels(
      { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels },
      options,
    );
  } catch (error) {
    if (error instanceof NoInkError) throw new NoInkError(`mnistDigitFromImage: ${noInkMessage(name, error.contrast, error.required)}`, error.contrast, error.required);
    throw error;
  }
}

function checkFile(path: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new ImageError(`mnistDigitFromImage: cannot read ${path}: ${why}`);
  }
  if (isFolder) throw new ImageError(`mnistDigitFromImage: ${path} is a folder, not an image`);
}
