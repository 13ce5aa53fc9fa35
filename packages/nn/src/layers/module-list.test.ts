import { ArgumentError, GraphError, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Module, type AnyModule } from "../module.js";
import { Linear } from "./linear.js";
import { ModuleList } from "./module-list.js";
import { ReLU } from "./relu.js";

class Stack extends Module {
  blocks = new ModuleList<AnyModule>([new Linear(3, 3), new Linear(3, 3)]);
  plain = [new Linear(3, 3)];

  forward(x: Tensor): Tensor {
    for (const block of this.blocks) x = (block as Linear).forward(x).relu();
    return x;
  }
}

describe("ModuleList", () => {
  it("registers its elements as children 0, 1, ... (a plain array is not scanned)", () => {
    const s = new Stack();
    expect(s.namedParameters().map(([n]) => n)).toEqual(["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]);
    expect(s.forward(Tensor.ones([2, 3])).shape).toEqual([2, 3]);
    expect(s.blocks.length).toBe(2);
    expect(s.blocks.extend([new ReLU()]).at(-1)).toBeInstanceOf(ReLU);
    expect(s.toString()).toContain("(blocks): ModuleList(\n    (0): Linear(");
  });

  it("has no forward and refuses non-modules", () => {
    expect(() => new ModuleList().forward()).toThrow(GraphError);
    expect(() => new ModuleList([1 as unknown as ReLU])).toThrow(ArgumentError);
    expect(() => new ModuleList().at(0)).toThrow("ModuleList.at: index must be an integer in [0, -1], but got 0");
  });
});
