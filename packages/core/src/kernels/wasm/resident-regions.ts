import { memoryTouched } from "./handoff.js";

// Regions of the calling thread's module memory that stay put between kernel calls (a compiled
// graph's weights already in the module). They sit right after the module's own data, from
// `residentStart` on; every kernel lays out its scratch after the last of them (engine.ts shifts
// the local instance's heapBase by `residentBytes()`), so a scratch layout never overwrites one.

interface Region {
  at: number;
  bytes: number;
  free: boolean;
}

const regions: Region[] = [];

/** The engine's alignment of every region (engine.ts's alignUp; not imported, engine.ts imports this file). */
const ALIGN = 64;

/** Bytes the resident regions span (free gaps between them included). */
export function residentBytes(): number {
  const last = regions[regions.length - 1];
  return last === undefined ? 0 : last.at + last.bytes;
}

/** A region of `bytes` (64-byte aligned), as a byte offset from the resident start: the first free gap that fits, else after the last. */
export function takeResident(bytes: number): number {
  // A new region may cover what a kernel left after heapBase for the next one.
  memoryTouched();
  const size = Math.ceil(bytes / ALIGN) * ALIGN;
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i]!;
    if (!r.free || r.bytes < size) continue;
    if (r.bytes > size) regions.splice(i + 1, 0, { at: r.at + size, bytes: r.bytes - size, free: true });
    r.bytes = size;
    r.free = false;
    return r.at;
  }
  const at = residentBytes();
  regions.push({ at, bytes: size, free: false });
  return at;
}

/** Gives the region at byte offset `at` back: merged with free neighbours, trailing free space dropped. */
export function releaseResident(at: number): void {
  const i = regions.findIndex((r) => r.at === at && !r.free);
  if (i < 0) return;
  regions[i]!.free = true;
  const next = regions[i + 1];
  if (next?.free === true) {
    regions[i]!.bytes += next.bytes;
    regions.splice(i + 1, 1);
  }
  const prev = regions[i - 1];
  if (prev?.free === true) {
    prev.bytes += regions[i]!.bytes;
    regions.splice(i, 1);
  }
  while (regions.length > 0 && regions[regions.length - 1]!.free) regions.pop();
}
