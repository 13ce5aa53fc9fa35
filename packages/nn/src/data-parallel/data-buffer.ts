// The shards' inputs, targets and outputs travel through one growable SharedArrayBuffer: a larger batch
// (or output) grows it in place, and every thread sees the new length, so no message is needed mid-run.

interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  readonly growable?: boolean;
  readonly maxByteLength: number;
  grow(byteLength: number): void;
}
type GrowableConstructor = new (byteLength: number, options: { maxByteLength: number }) => GrowableSharedArrayBuffer;

/** A growable SharedArrayBuffer of `bytes` that may grow to `maxBytes`, or an error naming what the runtime lacks. */
export function growableBuffer(operation: string, bytes: number, maxBytes: number): SharedArrayBuffer {
  if (typeof SharedArrayBuffer === "undefined") {
    throw new Error(
      `${operation}: this runtime has no SharedArrayBuffer (a page must be cross-origin isolated: served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)`,
    );
  }
  const buffer = new (SharedArrayBuffer as unknown as GrowableConstructor)(bytes, { maxByteLength: maxBytes });
  if (buffer.growable !== true) {
    throw new Error(`${operation}: this runtime's SharedArrayBuffer cannot grow (Node >= 20, Chrome >= 111, Firefox >= 128 and Safari >= 16.4 can)`);
  }
  return buffer;
}

/** Grows `buffer` to at least `bytes` (in steps of 1 MiB or a quarter of its size); any thread may call it. */
export function growTo(buffer: SharedArrayBuffer, bytes: number): void {
  const b = buffer as GrowableSharedArrayBuffer;
  if (b.byteLength >= bytes) return;
  if (bytes > b.maxByteLength) {
    throw new Error(`the shards need ${bytes} bytes of shared memory, more than the ${b.maxByteLength} allowed (the maxDataBytes option)`);
  }
  const target = Math.min(b.maxByteLength, Math.max(bytes, b.byteLength + (b.byteLength >> 2), b.byteLength + (1 << 20)));
  try {
    b.grow(target);
  } catch (error) {
    // Another thread grew it at the same time; only too little is a failure.
    if (b.byteLength < bytes) throw error;
  }
}
