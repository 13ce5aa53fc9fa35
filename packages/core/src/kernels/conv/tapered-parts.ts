/**
 * Splits `count` images, in chunks of `chunk`, into ranges of whole chunks for `threads` threads that
 * claim them from the two ends of the table (thread-pool.ts: the calling thread from the front, the
 * workers from the back once every range is ready), largest first from either end: each round hands out
 * half of the chunks left in `threads` equal pieces, none smaller than a `calls`·2-th of all chunks (as
 * OpenMP's "factoring" schedule does), one piece of each round to the front and the others to the back,
 * so that the smallest ranges meet in the middle and are claimed last. A thread that finishes its last
 * range while another still runs one then idles for at most a small range, instead of one of `calls`
 * equal ones, and a worker that starts late still finds work. (Largest first from the front alone left
 * the largest ranges but one for the middle: on the reference network's conv2 backward, the calling
 * thread's second 16-image range ran alone for 0.18-0.28 ms a step on average.) The ranges come in
 * image order, which is the table's unless the inputs are staged (stagedOrder). Null where that would
 * take more than `calls` ranges (the caller then cuts them equal).
 */
export function taperedParts(count: number, chunk: number, threads: number, calls: number): Array<[number, number]> | null {
  const units = Math.ceil(count / chunk);
  const least = Math.max(1, Math.ceil(units / (2 * calls)));
  // Chunks per range, as the front claims them and as the back claims them.
  const front: number[] = [];
  const back: number[] = [];
  for (let u0 = 0; u0 < units;) {
    const piece = Math.max(least, Math.ceil((units - u0) / (2 * threads)));
    for (let t = 0; t < threads && u0 < units; t++) {
      const size = Math.min(units - u0, piece);
      (t === 0 ? front : back).push(size);
      u0 += size;
    }
  }
  if (front.length + back.length > calls) return null;
  const out: Array<[number, number]> = [];
  let u = 0;
  const add = (size: number): void => {
    out.push([u * chunk, Math.min(count, (u + size) * chunk)]);
    u += size;
  };
  for (let i = 0; i < front.length; i++) add(front[i]!);
  for (let i = back.length - 1; i >= 0; i--) add(back[i]!);
  return out;
}

/**
 * The order in which to put `count` tapered ranges (taperedParts, for `threads` threads) in a table whose
 * inputs the calling thread copies in range by range while the workers start: until every range is ready
 * the workers too claim from the front, so their first pieces, the last threads − 1 ranges, lead the
 * table, and the calling thread's follow. Table position → range index. The ranges stay the same (so do
 * the weight-gradient sums of each range's images, added in range order): only who claims which changes.
 */
export function stagedOrder(count: number, threads: number): number[] {
  const lead = Math.min(count - 1, threads - 1);
  const order: number[] = [];
  for (let k = count - 1; k >= count - lead; k--) order.push(k);
  for (let k = 0; k < count - lead; k++) order.push(k);
  return order;
}
