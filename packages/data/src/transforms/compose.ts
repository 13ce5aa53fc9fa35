import type { Transform } from "./transform.js";

/** Chains transforms, applied left to right. */
export function compose(...transforms: Transform[]): Transform {
  return (data, offset, shape) => {
    for (const t of transforms) t(data, offset, shape);
  };
}
