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

/**
 * Splits `count` images into min(`threads`, chunks) ranges of whole chunks, their chunk counts
 * differing by at most one (a thread that takes one call more then waits the least).
 */
export function equalParts(count: number, chunk: number, threads: number): Array<[number, number]> {
  const units = Math.ceil(count / chunk);
  const n = Math.max(1, Math.min(threads, units));
  const out: Array<[number, number]> = [];
  for (let k = 0, u0 = 0; k < n; k++) {
    const u1 = u0 + Math.floor(units / n) + (k < units % n ? 1 : 0);
    out.push([u0 * chunk, Math.min(count, u1 * chunk)]);
    u0 = u1;
  }
  return out;
}

/** Image ranges as the kept functions below hand them out: shared, so frozen. */
export type ImageRanges = ReadonlyArray<readonly [number, number]>;

// The convolutions ask for the same few splits at every call (a network's layers at its batch size): each is
// computed once and kept, instead of new arrays per call (the reference network's 2-thread training step
// made ~7 KB of them a step). Keyed by one number: the arguments are small integers (below).
const EQUAL = 0;
const TAPERED = 1;
const STAGED_RANGES = 2;
const STAGED_ORDER = 3;
const kept = new Map<number, ImageRanges | readonly number[] | null>();
/** Splits kept at most (a few per convolution); past it the map starts again, so that memory stays bounded whatever the shapes. */
const MAX_KEPT = 256;

/** The key of a request, or -1 where an argument is out of the ranges the key packs (then computed afresh). */
function keyOf(kind: number, count: number, chunk: number, threads: number, calls: number): number {
  if (!(count >= 0 && count < 2 ** 24 && chunk >= 1 && chunk < 2 ** 12 && threads >= 1 && threads < 2 ** 7 && calls >= 0 && calls < 2 ** 7)) return -1;
  if (!Number.isInteger(count) || !Number.isInteger(chunk) || !Number.isInteger(threads) || !Number.isInteger(calls)) return -1;
  // 24 + 12 + 7 + 7 + 2 = 52 bits: exact in a double.
  return (((count * 2 ** 12 + chunk) * 2 ** 7 + threads) * 2 ** 7 + calls) * 4 + kind;
}

function freezeRanges(ranges: Array<[number, number]> | null): ImageRanges | null {
  if (ranges === null) return null;
  for (const r of ranges) Object.freeze(r);
  return Object.freeze(ranges);
}

function make(kind: number, count: number, chunk: number, threads: number, calls: number): ImageRanges | readonly number[] | null {
  if (kind === EQUAL) return freezeRanges(equalParts(count, chunk, calls));
  if (kind === STAGED_ORDER) return Object.freeze(stagedOrder(count, threads));
  const tapered = taperedParts(count, chunk, threads, calls);
  if (kind === TAPERED || tapered === null) return freezeRanges(tapered);
  return freezeRanges(stagedOrder(tapered.length, threads).map((k) => tapered[k]!));
}

function keep(kind: number, count: number, chunk: number, threads: number, calls: number): ImageRanges | readonly number[] | null {
  const key = keyOf(kind, count, chunk, threads, calls);
  if (key >= 0) {
    const hit = kept.get(key);
    if (hit !== undefined) return hit;
  }
  const made = make(kind, count, chunk, threads, calls);
  if (key >= 0) {
    if (kept.size >= MAX_KEPT) kept.clear();
    kept.set(key, made);
  }
  return made;
}

/** equalParts(count, chunk, n), kept (read only). */
export function keptEqualParts(count: number, chunk: number, n: number): ImageRanges {
  return keep(EQUAL, count, chunk, 1, n) as ImageRanges;
}

/** taperedParts(count, chunk, threads, calls), kept (read only). */
export function keptTaperedParts(count: number, chunk: number, threads: number, calls: number): ImageRanges | null {
  return keep(TAPERED, count, chunk, threads, calls) as ImageRanges | null;
}

/** taperedParts(count, chunk, threads, calls) in stagedOrder (table position → its range), kept (read only); null as taperedParts. */
export function keptStagedParts(count: number, chunk: number, threads: number, calls: number): ImageRanges | null {
  return keep(STAGED_RANGES, count, chunk, threads, calls) as ImageRanges | null;
}

/** stagedOrder(count, threads), kept (read only). */
export function keptStagedOrder(count: number, threads: number): readonly number[] {
  return keep(STAGED_ORDER, count, 1, threads, 0) as readonly number[];
}
