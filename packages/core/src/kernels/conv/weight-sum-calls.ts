/**
 * The most bytes a convolution's backward spends on the regions in which its calls sum the weight gradient,
 * one region a call (a Winograd dU is 36·O·C floats: 9.4 MB for 256 → 256 channels). Beyond it, more calls
 * would grow the shared memory towards its 1 GB maximum, where laying out fails and the backward falls back
 * to TypeScript. The CIFAR-shaped network's layers keep their 16 calls on 2 threads well within it.
 */
export const WEIGHT_SUM_BYTES = 1 << 26;

/**
 * How many calls a backward cuts its images into when each call sums the weight gradient in a region of
 * `regionBytes` of its own: `wanted` where their regions fit in `budget`, else one call per thread, else as
 * many as fit (at least one, which the one-thread backward uses too).
 */
export function weightSumCalls(wanted: number, threads: number, regionBytes: number, budget = WEIGHT_SUM_BYTES): number {
  const fit = Math.max(1, Math.floor(budget / Math.max(1, regionBytes)));
  if (wanted <= fit) return Math.max(1, wanted);
  return Math.max(1, Math.min(wanted, threads, fit));
}
