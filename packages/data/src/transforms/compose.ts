import { transformedShape, type Transform } from "./transform.js";

/** Chains transforms, applied left to right; the chain changes the sample's shape when one of them does. */
export function compose(...transforms: Transform[]): Transform {
  if (!transforms.some((t) => t.outputShape !== undefined)) {
    return (data, offset, shape) => {
      for (const t of transforms) t(data, offset, shape);
    };
  }
  // The samples in between may be larger than both ends (resize up, then crop): they live in a scratch buffer.
  let scratch = new Float32Array(0);
  const chained: Transform = (data, offset, shape) => {
    let current: readonly number[] = shape;
    let largest = size(shape);
    for (const t of transforms) largest = Math.max(largest, size((current = transformedShape(t, current))));
    if (scratch.length < largest) scratch = new Float32Array(largest);
    scratch.set(data.subarray(offset, offset + size(shape)));
    current = shape;
    for (const t of transforms) {
      t(scratch, 0, current);
      current = transformedShape(t, current);
    }
    data.set(scratch.subarray(0, size(current)), offset);
  };
  chained.outputShape = (shape) => transforms.reduce<number[]>((s, t) => transformedShape(t, s), [...shape]);
  return chained;
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
