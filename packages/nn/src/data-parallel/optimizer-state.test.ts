import { Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { growableBuffer } from "./data-buffer.js";
import { OptimizerStateSharing } from "./optimizer-state.js";
import { adopt } from "./shared-state.js";

describe("OptimizerStateSharing", () => {
  // A parameter of 4 floats in the parameters' shared buffer, and room for two state tensors of its size.
  const parameters = new SharedArrayBuffer(16);
  const param = tensor([1, 2, 3, 4]);
  adopt(param, new Float32Array(parameters), true);
  const stateOf = (values: number[]): { optimizer: { state: Map<Tensor, Record<string, unknown>> }; t: Tensor } => {
    const t = tensor(values);
    return { optimizer: { state: new Map([[param, { step: 1, buffer: t }]]) }, t };
  };

  it("moves only the state handed to the optimizer kernels, one place per tensor, and gives the least recent one back its own memory when full", () => {
    const buffer = growableBuffer("test", 8, 32);
    const sharing = new OptimizerStateSharing(buffer, parameters);
    const a = stateOf([1, 1, 1, 1]);
    sharing.share(a.optimizer, new Set());
    expect(a.t.data.data.buffer).not.toBe(buffer);
    sharing.share(a.optimizer, new Set([a.t.data.data]));
    expect(a.t.data.data.buffer).toBe(buffer);
    const b = stateOf([2, 2, 2, 2]);
    sharing.share(b.optimizer, new Set([b.t.data.data]));
    expect(b.t.data.data.buffer).toBe(buffer);
    expect(b.t.data.data.byteOffset).not.toBe(a.t.data.data.byteOffset);
    // The buffer is full: c takes a's place (a moved in least recently), and a keeps its values apart.
    const c = stateOf([3, 3, 3, 3]);
    const aPlace = a.t.data.data.byteOffset;
    sharing.share(c.optimizer, new Set([c.t.data.data]));
    expect(c.t.data.data.buffer).toBe(buffer);
    expect(c.t.data.data.byteOffset).toBe(aPlace);
    expect(a.t.data.data.buffer).not.toBe(buffer);
    expect([...a.t.toTypedArray(), ...b.t.toTypedArray(), ...c.t.toTypedArray()]).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    // A tensor that replaced b's (as loadStateDict does) takes b's place once b views other memory.
    const bPlace = b.t.data.data.byteOffset;
    b.t.data = tensor([0, 0, 0, 0]).data;
    const d = tensor([4, 4, 4, 4]);
    b.optimizer.state.get(param)!.buffer = d;
    sharing.share(b.optimizer, new Set([d.data.data]));
    expect(d.data.data.byteOffset).toBe(bPlace);
    expect([...d.toTypedArray(), ...c.t.toTypedArray()]).toEqual([4, 4, 4, 4, 3, 3, 3, 3]);
  });

  it("gives up the least recently used place when full: a tensor handed to the kernels again is kept over one moved in later but not used since", () => {
    const buffer = growableBuffer("test", 8, 32);
    const sharing = new OptimizerStateSharing(buffer, parameters);
    const a = stateOf([1, 1, 1, 1]);
    sharing.share(a.optimizer, new Set([a.t.data.data]));
    const b = stateOf([2, 2, 2, 2]);
    sharing.share(b.optimizer, new Set([b.t.data.data]));
    // a's optimizer steps again (its shared tensor handed to the kernels); b's does not.
    sharing.share(a.optimizer, new Set([a.t.data.data]));
    const c = stateOf([3, 3, 3, 3]);
    const bPlace = b.t.data.data.byteOffset;
    sharing.share(c.optimizer, new Set([c.t.data.data]));
    expect(c.t.data.data.byteOffset).toBe(bPlace);
    expect(a.t.data.data.buffer).toBe(buffer);
    expect(b.t.data.data.buffer).not.toBe(buffer);
    expect([...a.t.toTypedArray(), ...b.t.toTypedArray(), ...c.t.toTypedArray()]).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });
});
