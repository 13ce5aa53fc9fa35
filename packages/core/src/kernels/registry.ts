import { ArgumentError } from "../errors.js";
import { warnNoWasmSimd } from "./fast-path-warnings.js";

// The one place that decides which implementation of each kernel family runs (modelled on tfjs-core's
// kernel_registry, smaller: one backend per implementation, three backends). A family file registers
// its implementations once, at module load; operators resolve the family on every call, and an operator
// whose backward must match its forward keeps the resolved kernel on its ctx.

/** Implementations a kernel family can have, fastest first. */
export const KERNEL_BACKENDS = ["wasm", "js", "reference"] as const;

/**
 * - "wasm": WebAssembly SIMD (relaxed SIMD where the engine has it), on the worker threads when
 *   `@pico/core/threads` started them; float64 goes to "js";
 * - "js": packed, register-blocked TypeScript;
 * - "reference": the plain loops every fast kernel is tested against.
 */
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

/** What useKernels accepts. */
export type KernelChoice = KernelBackend;

export interface KernelOptions {
  /** Whether the implementation can run here (default: always); an unavailable one is skipped. */
  available?: () => boolean;
  /** How many threads it splits its work across now (default 1). */
  threads?: () => number;
}

/** A family's implementation resolved for one call: keep it on ctx so that backward runs the same one. */
export interface ResolvedKernel<K> {
  readonly family: string;
  /** "custom" for a kernel installed with KernelFamily.override. */
  readonly backend: KernelBackend | "custom";
  readonly kernel: K;
}

interface Entry<K> {
  kernel: K;
  available: () => boolean;
  threads: () => number;
  /** What resolve() returns for this entry: made once, at register. */
  resolved: ResolvedKernel<K>;
}

/** What kernelInfo reports per family. */
export interface KernelFamilyInfo {
  backend: KernelBackend | "custom";
  threads: number;
  /** The backends registered for the family and available here, fastest first. */
  available: KernelBackend[];
}

/** Which kernels run: the choice (null until useKernels), the WebAssembly features, and each family's resolution. */
export interface KernelInfo {
  choice: KernelChoice | null;
  wasm: { simd: boolean; relaxedSimd: boolean };
  /** The most threads any family splits its work across now. */
  threads: number;
  families: Record<string, KernelFamilyInfo>;
}

let choice: KernelChoice | null = null;
const families = new Map<string, KernelFamily<unknown>>();
/** What the WebAssembly loader reports: its features, and why the module cannot run (null: it can, or is not loaded yet). */
interface WasmReport {
  simd: boolean;
  relaxedSimd: boolean;
  failure: string | null;
}
let features: () => WasmReport = () => ({ simd: false, relaxedSimd: false, failure: null });

/** The implementations of one kernel family. Create it with `kernelFamily(name)`. */
export class KernelFamily<K> {
  private readonly entries = new Map<KernelBackend, Entry<K>>();
  private custom: K | null = null;
  /**
   * The records of installed overrides by kernel, so that installing the same kernel again takes the same
   * record (DataParallel installs its recorder every step); weak, so that a kernel no longer installed
   * (and what its closure holds) can be collected.
   */
  private readonly customRecords = new WeakMap<object, ResolvedKernel<K>>();
  private cached: ResolvedKernel<K> | null = null;

  constructor(readonly name: string) {}

  /** Registers (or replaces) the implementation for `backend`. */
  register(backend: KernelBackend, kernel: K, options: KernelOptions = {}): this {
    if (!KERNEL_BACKENDS.includes(backend)) {
      throw new ArgumentError(`registerKernel: backend of "${this.name}" must be one of ${KERNEL_BACKENDS.join(", ")}, but got ${JSON.stringify(backend)}`);
    }
    this.entries.set(backend, {
      kernel,
      available: options.available ?? (() => true),
      threads: options.threads ?? (() => 1),
      resolved: { family: this.name, backend, kernel },
    });
    this.cached = null;
    return this;
  }

  /**
   * The implementation that runs now: the override if any, else the chosen backend (useKernels), else the
   * next slower one available, else the fastest one available. Operators call it on every call, so it
   * allocates nothing once each record exists: the same record for the same resolution, also after an
   * override is installed and taken away again.
   */
  resolve(): ResolvedKernel<K> {
    if (this.cached !== null) return this.cached;
    const custom = this.custom;
    if (custom !== null) {
      const key = typeof custom === "object" || typeof custom === "function" ? (custom as object) : null;
      let record = key === null ? undefined : this.customRecords.get(key);
      if (record === undefined) {
        record = { family: this.name, backend: "custom", kernel: custom };
        if (key !== null) this.customRecords.set(key, record);
      }
      return (this.cached = record);
    }
    const start = choice === null ? 0 : KERNEL_BACKENDS.indexOf(choice);
    const n = KERNEL_BACKENDS.length;
    // The chosen backend and the slower ones, then the faster ones, nearest first: no order array per call.
    for (let i = 0; i < n; i++) {
      const backend = KERNEL_BACKENDS[i < n - start ? start + i : n - 1 - i]!;
      const entry = this.entries.get(backend);
      if (entry === undefined) continue;
      if (entry.available()) return (this.cached = entry.resolved);
      // The fast path was expected (no slower backend was chosen) and cannot run.
      const failure = backend === "wasm" && start === 0 ? features().failure : null;
      if (failure !== null) warnNoWasmSimd(failure);
    }
    throw new ArgumentError(`kernels: no implementation of "${this.name}" is available here (registered: ${[...this.entries.keys()].join(", ") || "none"})`);
  }

  /** The registered implementation for `backend`, available or not (tests compare implementations with it). */
  implementation(backend: KernelBackend): K | undefined {
    return this.entries.get(backend)?.kernel;
  }

  /** Installs `kernel` in place of every registered one until `override(null)` or the next useKernels; returns the kernel that ran before. */
  override(kernel: K | null): K {
    const previous = this.resolve().kernel;
    this.custom = kernel;
    this.cached = null;
    return previous;
  }

  info(): KernelFamilyInfo {
    const resolved = this.resolve();
    const entry = resolved.backend === "custom" ? undefined : this.entries.get(resolved.backend);
    const available = KERNEL_BACKENDS.filter((b) => this.entries.get(b)?.available() === true);
    return { backend: resolved.backend, threads: entry?.threads() ?? 1, available };
  }

  /** @internal Forgets the cached resolution (the choice, the threads or an availability changed). */
  invalidate(): void {
    this.cached = null;
  }
}

/** The family called `name`, created empty the first time. */
export function kernelFamily<K>(name: string): KernelFamily<K> {
  let family = families.get(name);
  if (family === undefined) {
    family = new KernelFamily<unknown>(name);
    families.set(name, family);
  }
  return family as KernelFamily<K>;
}

/** Every family forgets its cached resolution: called when threads start or stop. */
export function kernelsChanged(): void {
  for (const family of families.values()) family.invalidate();
}

/** @internal The WebAssembly loader reports its features here (one source for kernelInfo and the warnings). */
export function reportWasm(f: () => WasmReport): void {
  features = f;
}

/**
 * Selects the backend every kernel family runs on (clearing overrides); a family without it available
 * takes the next slower one. Returns the backend the GEMM runs on ("wasm" falls back to "js" where
 * WebAssembly SIMD is unavailable). Threads started by `@pico/core/threads` stay in use by "wasm".
 */
export function useKernels(backend: KernelChoice): KernelChoice {
  if (!KERNEL_BACKENDS.includes(backend)) {
    throw new ArgumentError(`useKernels: choice must be "wasm", "js" or "reference", but got ${JSON.stringify(backend)}`);
  }
  choice = backend;
  for (const family of families.values()) family.override(null);
  const gemm = families.get("gemm")?.resolve().backend;
  return gemm === undefined || gemm === "custom" ? backend : gemm;
}

/** Which implementation of each kernel family runs now, on how many threads, with which WebAssembly features. */
export function kernelInfo(): KernelInfo {
  const out: Record<string, KernelFamilyInfo> = {};
  for (const [name, family] of [...families].sort(([a], [b]) => a.localeCompare(b))) out[name] = family.info();
  const threads = Math.max(1, ...Object.values(out).map((f) => f.threads));
  const { simd, relaxedSimd } = features();
  return { choice, wasm: { simd, relaxedSimd }, threads, families: out };
}

/**
 * The kernel report as one line, the same wherever it is shown (mnist-train, the browser page), e.g.
 * `kernels: gemm wasm, conv2d wasm · WebAssembly SIMD (relaxed, FMA) · 2 threads`; with `threadsAsked`,
 * a shortfall is named: `1 thread (of 2 asked for)`.
 */
export function describeKernels(info: KernelInfo = kernelInfo(), threadsAsked?: number): string {
  const backend = (family: string): string => info.families[family]?.backend ?? "none";
  const simd = info.wasm.simd ? `WebAssembly SIMD${info.wasm.relaxedSimd ? " (relaxed, FMA)" : ""}` : "no WebAssembly SIMD: TypeScript kernels";
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  const shortfall = threadsAsked === undefined || threadsAsked === info.threads ? "" : ` (of ${threadsAsked} asked for)`;
  return `kernels: gemm ${backend("gemm")}, conv2d ${backend("conv2d")} · ${simd} · ${threads}${shortfall}`;
}
