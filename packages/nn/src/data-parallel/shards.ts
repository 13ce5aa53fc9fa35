/**
 * Where each of `replicas` contiguous shards of `rows` rows starts, and where the last ends
 * (`replicas + 1` numbers): shard sizes differ by at most one, the larger ones last, so the calling
 * thread (shard 0), which also combines the gradients, never has more rows than a worker.
 */
export function shardBounds(rows: number, replicas: number): number[] {
  const base = Math.floor(rows / replicas);
  const larger = rows % replicas;
  const bounds = [0];
  for (let r = 0; r < replicas; r++) bounds.push(bounds[r]! + base + (r >= replicas - larger ? 1 : 0));
  return bounds;
}

/** Where shard `r` of shardBounds(rows, replicas) starts (shardBounds(rows, replicas)[r], without the array). */
export function shardStart(rows: number, replicas: number, r: number): number {
  const base = Math.floor(rows / replicas);
  return r * base + Math.max(0, r - (replicas - (rows % replicas)));
}
