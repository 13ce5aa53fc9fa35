import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { fileURLToPath } from "node:url";
import { pythonPath } from "./availability.js";
import { TorchTensor, decodeValue, encodeValue, type OracleResult, type OracleValue } from "./wire.js";

export interface RunRequest {
  /**
   * Python run with the inputs bound to their names, plus torch, F (torch.nn.functional), nn, math,
   * np and `store` (a dict kept across the requests of this process). One expression becomes `out`;
   * statements must assign the names listed in `outputs` (default ["out"]).
   */
  code: string;
  inputs?: { readonly [name: string]: OracleValue };
  /** Variables to return (default ["out"]); each may be a tensor, number, list, tuple or dict of them. */
  outputs?: readonly string[];
  /**
   * Run backward and return the .grad of every input tensor that requires grad: from `upstream`
   * gradients when given, else from the sum of every floating output that requires grad.
   */
  grad?: boolean;
  /** Upstream gradients by output name; for an output that is a list or dict, a matching list or dict. */
  upstream?: { readonly [name: string]: OracleValue };
  /** torch.manual_seed before the code runs (default 0). */
  seed?: number;
}

export class OracleError extends Error {
  constructor(
    message: string,
    /** Python's traceback, when the code raised. */
    readonly traceback = "",
  ) {
    super(message);
    this.name = "OracleError";
  }
}

export class RunResult {
  constructor(
    /** Every requested output by name. */
    readonly values: Record<string, OracleResult>,
    /** .grad of each input tensor that required grad, by its path ("a", "params.weight"); null where torch left it None. */
    readonly grads: Record<string, TorchTensor | null>,
  ) {}

  /** The output named `out`. */
  get out(): OracleResult {
    return this.values.out ?? null;
  }

  /** An output that must be a tensor; `path` may go into lists and dicts: "state.weight", "outs.0". */
  tensor(path = "out"): TorchTensor {
    const v = this.at(path);
    if (!(v instanceof TorchTensor)) throw new OracleError(`torch-oracle: output ${path} is not a tensor but ${JSON.stringify(v)}`);
    return v;
  }

  /** An output that must be a number (a Python int or float). */
  number(path = "out"): number {
    const v = this.at(path);
    if (typeof v !== "number") throw new OracleError(`torch-oracle: output ${path} is not a number but ${v instanceof TorchTensor ? "a tensor" : JSON.stringify(v)}`);
    return v;
  }

  /** The gradient of input `path`, which must exist. */
  grad(path: string): TorchTensor {
    const g = this.grads[path];
    if (!(g instanceof TorchTensor)) throw new OracleError(`torch-oracle: no gradient for input ${path} (torch has ${Object.keys(this.grads).join(", ") || "none"})`);
    return g;
  }

  /** An output that is a dict of tensors (a state dict), as a Map keeping torch's key order. */
  tensors(path: string): Map<string, TorchTensor> {
    const v = this.at(path);
    if (v === null || typeof v !== "object" || v instanceof TorchTensor || Array.isArray(v)) throw new OracleError(`torch-oracle: output ${path} is not a dict`);
    const out = new Map<string, TorchTensor>();
    for (const [k, t] of Object.entries(v)) {
      if (!(t instanceof TorchTensor)) throw new OracleError(`torch-oracle: output ${path}.${k} is not a tensor`);
      out.set(k, t);
    }
    return out;
  }

  private at(path: string): OracleResult {
    const [head, ...rest] = path.split(".");
    let v: OracleResult | undefined = this.values[head!];
    for (const part of rest) {
      if (v === null || v === undefined || typeof v !== "object" || v instanceof TorchTensor) {
        v = undefined;
        break;
      }
      v = Array.isArray(v) ? v[Number(part)] : v[part];
    }
    if (v === undefined) throw new OracleError(`torch-oracle: no output ${path} (outputs: ${Object.keys(this.values).join(", ")})`);
    return v;
  }
}

interface Pending {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  code: string;
}

interface Reply {
  id: number;
  ok: boolean;
  values?: unknown;
  grads?: unknown;
  error?: string;
  traceback?: string;
}

const SERVER = fileURLToPath(new URL("../python/oracle_server.py", import.meta.url));

/** The environment of every PyTorch process: one thread, no bytecode files. */
export function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1" };
}

export function serverScript(): string {
  return SERVER;
}

/** A line channel to one PyTorch server: a child process's stdin/stdout, or a socket to a server the zygote forked. */
interface Channel {
  write(line: string): void;
  end(): void;
  /** The handles that keep Node alive while a request waits. */
  handles: { ref?: () => void; unref?: () => void }[];
}

/**
 * One long-lived PyTorch server answering requests in order (line-delimited JSON): a process forked
 * by the run's zygote when the vitest global setup started one (PICO_TORCH_SOCKET), else a child
 * process of its own.
 */
export class TorchOracle {
  private channel: Channel | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private buffered = "";
  private stderr = "";
  /** Requests answered so far. */
  requests = 0;

  /** Runs `request.code` in torch; rejects with an OracleError carrying Python's message if it raises. */
  run(request: RunRequest): Promise<RunResult> {
    const channel = this.start();
    const id = this.nextId++;
    const line = JSON.stringify({
      id,
      code: request.code,
      inputs: encodeValue(request.inputs ?? {}),
      outputs: request.outputs,
      grad: request.grad ?? false,
      upstream: request.upstream === undefined ? undefined : encodeValue(request.upstream),
      seed: request.seed,
    });
    return new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, code: request.code });
      this.setRef(true);
      channel.write(`${line}\n`);
    });
  }

  /** Runs several requests with one write (their replies still come one by one, in order). */
  runAll(requests: readonly RunRequest[]): Promise<RunResult[]> {
    return Promise.all(requests.map((r) => this.run(r)));
  }

  /** Ends the server (it also ends by itself when this process exits and its input closes). */
  close(): void {
    const channel = this.channel;
    if (channel === null) return;
    this.channel = null;
    channel.end();
    this.failAll("torch-oracle: closed");
  }

  private start(): Channel {
    if (this.channel !== null) return this.channel;
    const socketPath = process.env.PICO_TORCH_SOCKET;
    const channel = socketPath !== undefined && socketPath !== "" && existsSync(socketPath) ? this.connect(socketPath) : this.spawn();
    this.channel = channel;
    this.buffered = "";
    this.setRef(false);
    return channel;
  }

  private spawn(): Channel {
    const child = spawn(pythonPath(), ["-u", SERVER], { stdio: ["pipe", "pipe", "pipe"], env: pythonEnv() });
    const channel: Channel = {
      write: (line) => child.stdin.write(line),
      end: () => child.stdin.end(),
      handles: [child, child.stdin, child.stdout, child.stderr] as unknown as Channel["handles"],
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.receive(channel, chunk));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    child.on("error", (e) => this.onExit(channel, `torch-oracle: could not start ${pythonPath()}: ${e.message}`));
    child.on("exit", (code, signal) =>
      this.onExit(channel, `torch-oracle: the PyTorch process exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim()}` : ""}`),
    );
    child.stdin.on("error", () => undefined);
    return channel;
  }

  private connect(path: string): Channel {
    const socket = createConnection(path);
    const channel: Channel = {
      write: (line) => socket.write(line),
      end: () => socket.end(),
      handles: [socket] as unknown as Channel["handles"],
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.receive(channel, chunk));
    socket.on("error", (e) => this.onExit(channel, `torch-oracle: the PyTorch server at ${path} failed: ${e.message}`));
    socket.on("close", () => this.onExit(channel, `torch-oracle: the PyTorch server at ${path} closed the connection`));
    return channel;
  }

  private receive(channel: Channel, chunk: string): void {
    if (this.channel !== channel) return;
    const from = this.buffered.length;
    this.buffered += chunk;
    let nl = this.buffered.indexOf("\n", from);
    for (; nl >= 0; nl = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === "") continue;
      const reply = JSON.parse(line) as Reply;
      const p = this.pending.get(reply.id);
      if (p === undefined) continue;
      this.pending.delete(reply.id);
      this.requests += 1;
      if (this.pending.size === 0) this.setRef(false);
      if (reply.ok) {
        p.resolve(new RunResult(decodeValue(reply.values ?? {}) as Record<string, OracleResult>, decodeValue(reply.grads ?? {}) as Record<string, TorchTensor | null>));
      } else {
        p.reject(new OracleError(`torch-oracle: ${reply.error}\n--- code ---\n${p.code}\n--- traceback ---\n${reply.traceback ?? ""}`, reply.traceback));
      }
    }
  }

  private onExit(channel: Channel, message: string): void {
    if (this.channel !== channel) return;
    this.channel = null;
    this.failAll(message);
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new OracleError(message));
    this.pending.clear();
  }

  /** Keeps Node alive only while a request is waiting, so an idle oracle never holds a process open. */
  private setRef(on: boolean): void {
    for (const h of this.channel?.handles ?? []) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }
}

const SHARED = Symbol.for("@pico/torch-oracle/shared");
type Holder = { [SHARED]?: TorchOracle };

/**
 * The process-wide oracle, started on first use. It lives on globalThis so that test files run one
 * after another in the same worker (each with fresh modules) share one PyTorch process.
 */
export function oracle(): TorchOracle {
  const holder = globalThis as Holder;
  holder[SHARED] ??= new TorchOracle();
  return holder[SHARED];
}
