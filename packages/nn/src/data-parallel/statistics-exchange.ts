import type { kernels } from "@pico/core";
import { BatchNormBase, type BatchNormStatisticsReducer } from "../layers/batch-norm.js";
import type { AnyModule } from "../module.js";
import { type ControlLayout, DONE, EXCHANGE_BASE, EXITED, MAIN_LEFT } from "./protocol.js";
import { now as clock } from "./clock.js";
import type { Spin } from "./wait.js";

// Synchronized BatchNorm for data-parallel steps, as PyTorch's SyncBatchNorm: whenever a BatchNorm layer
// normalises with batch statistics, every replica publishes its shard's per-channel figures in its slot of
// shared memory, waits until every replica has published the same exchange (a barrier on per-replica
// tickets), and combines all the slots in replica order itself: every replica gets the same bits, and
// none waits for a second barrier. Each replica has two slots, used alternately: a replica can be one
// exchange ahead of the slowest reader, never two.
//
// A slot, f64: [the layer's index in model.modules(), channels, kind, values per channel, data 2c]; the data
// is [mean c | biased variance c] (statistics) or [Σgm c | Σgm·(x − mean) c] (gradient sums).

const STATISTICS = 1;
const GRADIENT_SUMS = 2;
const SLOT_HEADER = 4;
/** Longest sleep between checks that the replica waited for is still in the step (it also wakes the waiter when it leaves). */
const CHECK_MS = 20;

/** f64 of one slot for `model`'s widest BatchNorm layer (0 without BatchNorm). */
export function slotFloatsOf(model: AnyModule): number {
  let channels = 0;
  for (const m of model.modules()) if (m instanceof BatchNormBase) channels = Math.max(channels, m.numFeatures);
  return channels === 0 ? 0 : SLOT_HEADER + 2 * channels;
}

/** Ticket `a` is at or after ticket `b` (tickets count up and wrap around as int32). */
function reached(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * The ticket every replica's next step starts its exchanges after: the latest any replica reached (they
 * differ only after a step that failed between two exchanges). Read while every replica is idle.
 */
export function exchangeBase(control: Int32Array, layout: ControlLayout): number {
  let base = Atomics.load(control, layout.ticket(0));
  for (let r = 1; r < layout.replicas; r++) {
    const t = Atomics.load(control, layout.ticket(r));
    if (!reached(base, t)) base = t;
  }
  return base;
}

/** An exchange that cannot complete: the replica it waits for left the step or exchanged for another layer, or the step's time ran out. */
export class ExchangeAbort extends Error {
  override name = "ExchangeAbort";

  constructor(
    message: string,
    /** The replica that was waited for. */
    readonly replica: number,
  ) {
    super(message);
  }
}

interface LayerId {
  index: number;
  name: string;
}

/**
 * One replica's side of the BatchNorm statistics exchange: the reducer it installs on its model's
 * BatchNorm layers for the length of a step (`begin` … `end`). Only replica 0 (the calling thread)
 * updates the running statistics, which live in shared memory.
 */
export class StatisticsExchange implements BatchNormStatisticsReducer {
  readonly updatesRunningStats: boolean;
  private readonly slots: Float64Array;
  private readonly layers = new Map<BatchNormBase, LayerId>();
  private readonly names: string[] = [];
  private seq = 0;
  private first = 0;
  private ticket = 0;
  private deadline = Infinity;

  constructor(
    model: AnyModule,
    private readonly control: Int32Array,
    private readonly layout: ControlLayout,
    exchange: SharedArrayBuffer,
    private readonly slotFloats: number,
    private readonly replica: number,
    private readonly spin: Spin,
  ) {
    this.updatesRunningStats = replica === 0;
    this.slots = new Float64Array(exchange);
    model.namedModules().forEach(([name, m], index) => {
      const label = `${m.constructor.name} "${name || "(the model)"}"`;
      this.names.push(label);
      if (m instanceof BatchNormBase) this.layers.set(m, { index, name: label });
    });
  }

  /** True when the model has BatchNorm layers to connect. */
  get active(): boolean {
    return this.layers.size > 0 && this.slotFloats > 0 && this.layout.replicas > 1;
  }

  /** Connects the model's BatchNorm layers for the step of command count `seq`; waits end at `deadline` (a clock.ts time). */
  begin(seq: number, deadline = Infinity): void {
    if (!this.active) return;
    this.seq = seq;
    this.first = this.ticket = Atomics.load(this.control, EXCHANGE_BASE);
    this.deadline = deadline;
    for (const layer of this.layers.keys()) layer.setStatisticsReducer(this);
  }

  /** Disconnects the layers (they normalise alone again). */
  end(): void {
    for (const layer of this.layers.keys()) if (layer.statisticsReducer === this) layer.setStatisticsReducer(null);
  }

  sync(layer: BatchNormBase): kernels.BatchNormSync {
    const id = this.layers.get(layer);
    if (id === undefined) throw new Error(`${layer.constructor.name}: this data-parallel statistics exchange belongs to another model's BatchNorm layers`);
    return {
      statistics: (stats, c, count) => this.statistics(id, stats, c, count),
      gradientSums: (sums, c, count, total) => this.gradientSums(id, sums, c, count, total),
    };
  }

  /** The whole batch's mean and biased variance into stats, combined in replica order by Chan's formula; returns the whole batch's count. */
  private statistics(id: LayerId, stats: Float64Array, c: number, count: number): number {
    const parity = this.publish(id, STATISTICS, c, count, stats);
    let total = 0;
    for (let ch = 0; ch < c; ch++) {
      let n = 0;
      let mean = 0;
      let m2 = 0;
      for (let r = 0; r < this.layout.replicas; r++) {
        const at = this.slotAt(r, parity);
        const k = this.slots[at + 3]!;
        const mu = this.slots[at + SLOT_HEADER + ch]!;
        const m2r = this.slots[at + SLOT_HEADER + c + ch]! * k;
        if (n === 0) {
          [n, mean, m2] = [k, mu, m2r];
          continue;
        }
        const d = mu - mean;
        const both = n + k;
        mean += (d * k) / both;
        m2 += m2r + (d * d * n * k) / both;
        n = both;
      }
      stats[ch] = mean;
      stats[c + ch] = m2 / n;
      total = n;
    }
    if (total <= 1) throw new Error(`${id.name}: expected more than 1 value per channel when training, but the whole batch has ${total}`);
    return total;
  }

  /** The whole batch's gradient sums into total, added in replica order; returns the whole batch's count. */
  private gradientSums(id: LayerId, sums: Float64Array, c: number, count: number, total: Float64Array): number {
    const parity = this.publish(id, GRADIENT_SUMS, c, count, sums);
    total.fill(0, 0, 2 * c);
    let n = 0;
    for (let r = 0; r < this.layout.replicas; r++) {
      const at = this.slotAt(r, parity);
      n += this.slots[at + 3]!;
      for (let i = 0; i < 2 * c; i++) total[i]! += this.slots[at + SLOT_HEADER + i]!;
    }
    return n;
  }

  /** Writes this replica's figures into its slot, waits for every replica's, checks they are the same exchange; returns the slots' parity. */
  private publish(id: LayerId, kind: number, c: number, count: number, data: Float64Array): number {
    const ticket = (this.ticket + 1) | 0;
    this.ticket = ticket;
    const parity = ticket & 1;
    const at = this.slotAt(this.replica, parity);
    this.slots[at] = id.index;
    this.slots[at + 1] = c;
    this.slots[at + 2] = kind;
    this.slots[at + 3] = count;
    this.slots.set(data.subarray(0, 2 * c), at + SLOT_HEADER);
    const mine = this.layout.ticket(this.replica);
    Atomics.store(this.control, mine, ticket);
    Atomics.notify(this.control, mine);
    for (let r = 0; r < this.layout.replicas; r++) if (r !== this.replica) this.await(r, ticket, id, kind);
    for (let r = 0; r < this.layout.replicas; r++) {
      const theirs = this.slotAt(r, parity);
      if (this.slots[theirs] !== id.index || this.slots[theirs + 1] !== c || this.slots[theirs + 2] !== kind) {
        const what = (s: number): string => `${this.names[this.slots[s]!] ?? "an unknown layer"}'s ${this.slots[s + 2] === STATISTICS ? "statistics" : "gradient sums"} (${this.slots[s + 1]} channels)`;
        throw new ExchangeAbort(
          `the replicas' BatchNorm exchanges differ: exchange ${(ticket - this.first) | 0} of this step is ${what(at)} on replica ${this.replica} but ${what(theirs)} on replica ${r}; ` +
            "every replica must run the same BatchNorm layers in the same order (a forward must not branch on its shard's data)",
          r,
        );
      }
    }
    return parity;
  }

  /** Waits until replica `r` has published `ticket`; throws an ExchangeAbort when it left the step first or the deadline passed. */
  private await(r: number, ticket: number, id: LayerId, kind: number): void {
    const c = this.control;
    const at = this.layout.ticket(r);
    const spin = this.spin;
    spin.begin();
    while (!spin.idle()) if (reached(Atomics.load(c, at), ticket)) return;
    const what = `${id.name}'s ${kind === STATISTICS ? "statistics" : "gradient sums"} exchange (exchange ${(ticket - this.first) | 0} of this step)`;
    for (;;) {
      const now = Atomics.load(c, at);
      if (reached(now, ticket)) return;
      if (this.left(r)) {
        throw new ExchangeAbort(
          `replica ${r} left the step (it failed, exited, or finished its shard) before ${what}; every replica must run the same BatchNorm layers in the same order`,
          r,
        );
      }
      const remaining = this.deadline - clock();
      if (remaining <= 0) throw new ExchangeAbort(`replica ${r} did not reach ${what} within stepTimeoutMs`, r);
      Atomics.wait(c, at, now, Math.min(remaining, CHECK_MS));
    }
  }

  /** Replica `r` is done with this step (or its thread exited). */
  private left(r: number): boolean {
    if (r === 0) return Atomics.load(this.control, MAIN_LEFT) === this.seq;
    const done = Atomics.load(this.control, this.layout.worker(r) + DONE);
    return done === this.seq || done === EXITED;
  }

  private slotAt(replica: number, parity: number): number {
    return (replica * 2 + parity) * this.slotFloats;
  }
}

/** Wakes whoever waits for `replica`'s next exchange, so that it sees at once that the replica left the step. */
export function wakeExchange(control: Int32Array, layout: ControlLayout, replica: number): void {
  Atomics.notify(control, layout.ticket(replica));
}
