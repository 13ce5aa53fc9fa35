/** What countTypedArrays saw. */
export interface TypedArrayCount {
  /** Typed arrays and ArrayBuffers made with their own new memory. */
  arrays: number;
  bytes: number;
}

const NAMES = [
  "Float32Array", "Float64Array", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "BigInt64Array", "BigUint64Array", "ArrayBuffer",
] as const;

/**
 * Runs `fn` and counts the typed arrays (and ArrayBuffers) it creates with memory of their own:
 * `new Float32Array(n)`, `new Float32Array(array)`, `Float32Array.from(...)`, not views over an
 * existing buffer. It wraps the global constructors while `fn` runs (synchronously), so it sees
 * every allocation by name, in any package; copies made by `slice()` are not seen. For tests and
 * benchmarks of allocation-free code paths, such as a compiled graph's calls.
 */
export function countTypedArrays(fn: () => void): TypedArrayCount {
  const count: TypedArrayCount = { arrays: 0, bytes: 0 };
  const globals = globalThis as unknown as Record<string, unknown>;
  const originals = NAMES.map((name) => [name, globals[name]] as const).filter(([, c]) => typeof c === "function");
  for (const [name, original] of originals) {
    globals[name] = new Proxy(original as new (...args: unknown[]) => object, {
      construct(target, args, newTarget) {
        const made = Reflect.construct(target, args, newTarget === globals[name] ? target : newTarget);
        const first = args[0];
        if (!(first instanceof ArrayBuffer) && !(typeof SharedArrayBuffer !== "undefined" && first instanceof SharedArrayBuffer)) {
          count.arrays += 1;
          count.bytes += (made as { byteLength: number }).byteLength;
        }
        return made;
      },
    });
  }
  try {
    fn();
  } finally {
    for (const [name, original] of originals) globals[name] = original;
  }
  return count;
}
