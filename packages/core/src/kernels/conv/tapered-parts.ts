/**
 * Splits `count` images, in chunks of `chunk`, into ranges of whole chunks for `threads` threads that
 * claim them in order, largest first: each round hands out half of the chunks left in `threads` equal
 * pieces, none smaller than a `calls`·2-th of all chunks (as OpenMP's "factoring" schedule does). A
 * thread that finishes its last range while another still runs one then idles for at most a small
 * range, instead of one of `calls` equal ones, and a worker that starts late still finds work. Null
 * where that would take more than `calls` ranges (the caller then cuts them equal).
 */
export function taperedParts(count: number, chunk: number, threads: number, calls: number): Array<[number, number]> | null {
  const units = Math.ceil(count / chunk);
  const least = Math.max(1, Math.ceil(units / (2 * calls)));
  const out: Array<[number, number]> = [];
  for (let u0 = 0; u0 < units;) {
    const piece = Math.max(least, Math.ceil((units - u0) / (2 * threads)));
    for (let t = 0; t < threads && u0 < units; t++) {
      const u1 = Math.min(units, u0 + piece);
      out.push([u0 * chunk, Math.min(count, u1 * chunk)]);
      u0 = u1;
    }
  }
  return out.length <= calls ? out : null;
}
