/**
 * The most bytes a convolution's backward spends on the regions in which its calls sum the weight gradient
 * when it cuts its images into more calls than threads (a Winograd dU is 36·O·C floats: 9.4 MB for
 * 256 → 256 channels). More calls let the workers start while the calling thread still copies inputs in,
 * but each grows the shared memory towards its 1 GB maximum, where laying out fails and the backward falls
 * back to TypeScript. The CIFAR-shaped network's layers keep their 16 calls on 2 threads well within it.
 */
export const WEIGHT_SUM_BYTES = 1 << 26;

/**
 * How many calls a backward cuts its images into when each call sums the weight gradient in a region of
 * `regionBytes` of its own: `wanted` where their regions fit in `budget`, else one call per thread (every
 * thread needs a region of its own whatever the budget; fewer would leave threads idle).
 */
export function weightSumCalls(wanted: number, threads: number, regionBytes: number, budget = WEIGHT_SUM_BYTES): number {
  const calls = Math.max(1, wanted);
  if (calls * regionBytes <= budget) return calls;
  return Math.max(1, Math.min(calls, threads));
}
