/** Base class of every error Pico.ts throws on purpose. */
export class PicoError extends Error {
  override name = "PicoError";
}

/** Shapes that do not fit the operator's rule (broadcasting, matmul, reshape, layers). */
export class ShapeError extends PicoError {
  override name = "ShapeError";
}

/** An argument of the wrong type, range or value. */
export class ArgumentError extends PicoError {
  override name = "ArgumentError";
}

/** Misuse of the autograd graph: backward twice, backward without a gradient, a broken Function. */
export class GraphError extends PicoError {
  override name = "GraphError";
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
