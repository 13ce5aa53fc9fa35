import { type NDArray, type Tensor, kernels } from "@pico/core";
import type { Module } from "@pico/nn";

/**
 * Runs `probe` (a step whose results nobody uses) and leaves `model` as it was: every buffer (BatchNorm's
 * running statistics and num_batches_tracked, which a training-mode step moves) gets its values back, and
 * every parameter its `.grad` (the probe runs with none, so it cannot add to them). The values are written
 * back into the buffers' own arrays: data-parallel replicas view the same shared memory, and the bumped
 * versions tell them the values changed. Also when `probe` throws.
 */
export function withStateKept<T>(model: Module, probe: () => T): T {
  const buffers = model.buffers();
  const values: NDArray[] = buffers.map((b) => kernels.copy(b.data));
  const parameters = model.parameters();
  const grads: (Tensor | null)[] = parameters.map((p) => p.grad);
  for (const p of parameters) p.grad = null;
  try {
    return probe();
  } finally {
    buffers.forEach((b, i) => restore(b, values[i]!));
    parameters.forEach((p, i) => {
      p.grad = grads[i]!;
    });
  }
}

function restore(buffer: Tensor, saved: NDArray): void {
  const now = buffer.data;
  if (kernels.isContiguous(now) && kernels.dtypeOf(now) === kernels.dtypeOf(saved) && kernels.sameShape(now.shape, saved.shape)) {
    now.data.set(saved.data, now.offset);
  } else {
    // The probe replaced the buffer's data by another layout (no model here does): it takes the saved copy,
    // which DataParallel moves into its shared memory at the next step, as any replaced buffer.
    buffer.data = saved;
  }
  buffer.bumpVersion();
}
