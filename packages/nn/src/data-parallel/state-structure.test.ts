import { Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Dropout } from "../layers/dropout.js";
import { Linear } from "../layers/linear.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { type AnyModule, Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { StateStructure } from "./state-structure.js";

/** The structure's names and tensors equal a fresh walk of the model's. */
function expectWalked(s: StateStructure, model: AnyModule): void {
  expect(s.state.parameters.map((p) => p[0])).toEqual(model.namedParameters().map((p) => p[0]));
  expect(s.state.buffers.map((b) => b[0])).toEqual(model.namedBuffers().map((b) => b[0]));
  expect(s.parameters).toEqual(model.parameters());
  expect(s.tensors.every((t, i) => t === [...model.parameters(), ...model.buffers()][i])).toBe(true);
  expect(s.namedModules.map((m) => m[1])).toEqual(model.modules());
}

class Holder extends Module<[Tensor], Tensor> {
  scratch: Tensor | null = null;
  inner: AnyModule = new ReLU();
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe("StateStructure", () => {
  it("walks again exactly when a parameter, buffer or module is replaced, added, deleted or reordered", () => {
    const model = new Sequential(new Linear(3, 4), new BatchNorm2d(4), new ReLU());
    const s = new StateStructure(model);
    expectWalked(s, model);
    expect(s.changed()).toBe(false);
    model.train(false);
    (model.at(0) as Linear).weight.data.data[0] = 5;
    expect(s.changed()).toBe(false);
    const linear = model.at(0) as Linear;
    linear.weight = new Parameter(tensor(new Float32Array(12), { shape: [4, 3] }));
    expect(s.changed()).toBe(true);
    expectWalked(s, model);
    expect(s.changed()).toBe(false);
    const bn = model.at(1) as BatchNorm2d;
    const mean = tensor(new Float32Array(4), { shape: [4] });
    bn.running_mean = mean;
    expect(s.changed()).toBe(true);
    expect(s.tensors).toContain(mean);
    model.registerModule("extra", new Linear(2, 2));
    expect(s.changed()).toBe(true);
    expectWalked(s, model);
    expect(s.state.parameters.map((p) => p[0])).toContain("extra.weight");
    Reflect.deleteProperty(model, "extra");
    expect(s.changed()).toBe(true);
    expectWalked(s, model);
    // The same members in another key order: the walk's order changes.
    const bias = linear.bias!;
    Reflect.deleteProperty(linear, "weight");
    linear.registerParameter("weight", new Parameter(tensor(new Float32Array(12), { shape: [4, 3] })));
    expect(s.changed()).toBe(true);
    expect(s.state.parameters.slice(0, 2)).toEqual([["0.bias", bias], ["0.weight", linear.weight]]);
    linear.bias = null;
    expect(s.changed()).toBe(true);
    expectWalked(s, model);
    expect(s.changed()).toBe(false);
  });

  it("sees a plain tensor registered as a buffer without a new value, and a sub-module's new child", () => {
    const holder = new Holder();
    const s = new StateStructure(new Sequential(holder));
    holder.scratch = tensor([1, 2]);
    // A plain tensor attribute is no state, but its appearance is a change of the module's properties.
    expect(s.changed()).toBe(true);
    expect(s.state.buffers).toEqual([]);
    expect(s.changed()).toBe(false);
    holder.registerBuffer("scratch", holder.scratch);
    expect(s.changed()).toBe(true);
    expect(s.state.buffers).toEqual([["0.scratch", holder.scratch]]);
    expect(s.changed()).toBe(false);
    holder.inner = new Sequential(new ReLU(), new Dropout(0.5));
    expect(s.changed()).toBe(true);
    expect(s.namedModules.map((m) => m[0])).toEqual(["", "0", "0.inner", "0.inner.0", "0.inner.1"]);
  });

  it("walks every time a model overrides how it lists its children or state", () => {
    class Hiding extends Sequential {
      hide = false;
      override namedChildren(): [string, AnyModule][] {
        return this.hide ? [] : super.namedChildren();
      }
    }
    const model = new Hiding(new Linear(2, 2));
    const s = new StateStructure(model);
    expect(s.parameters).toHaveLength(2);
    model.hide = true;
    expect(s.changed()).toBe(true);
    expect(s.parameters).toHaveLength(0);
  });

  it("notices namedChildren, namedParameters or namedBuffers overridden on an instance after its walk", () => {
    const model = new Sequential(new Linear(2, 3), new Linear(3, 4));
    const s = new StateStructure(model);
    const inner = model.at(1) as Linear;
    // An own method hiding the second layer, installed after the walk: no Module/Tensor property changes.
    (model as unknown as { namedChildren(): unknown }).namedChildren = function (this: Sequential) {
      return Module.prototype.namedChildren.call(this).filter(([, m]) => m !== inner);
    };
    expect(s.changed()).toBe(true);
    expectWalked(s, model);
    expect(s.parameters).toHaveLength(2);
    const other = new Sequential(new Linear(2, 3));
    const t = new StateStructure(other);
    (other as unknown as { namedParameters(): unknown }).namedParameters = () => [];
    expect(t.changed()).toBe(true);
    expect(t.parameters).toHaveLength(0);
    const third = new Sequential(new BatchNorm2d(2));
    const u = new StateStructure(third);
    (third as unknown as { namedBuffers(): unknown }).namedBuffers = () => [];
    expect(u.changed()).toBe(true);
    expect(u.state.buffers).toHaveLength(0);
  });
});
