import { tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { values } from "../test-utils/tensors.js";
import { MSELoss } from "./mse-loss.js";

describe("MSELoss", () => {
  it("computes the mean, sum or elementwise squared error", () => {
    const x = tensor([1, 2, 4]);
    const y = tensor([0, 2, 1]);
    expect(new MSELoss().forward(x, y).item()).toBeCloseTo(10 / 3, 6);
    expect(new MSELoss({ reduction: "sum" }).forward(x, y).item()).toBe(10);
    expect(values(new MSELoss({ reduction: "none" }).forward(x, y))).toEqual([1, 0, 9]);
  });
});
