import { describe, expect, it } from "vitest";
import { ArgumentError, ShapeError, Tensor, tensor } from "../index.js";
import { checkGrad } from "../test-utils/index.js";

describe("movement operators: gradcheck", () => {
  it("reshape [3, 7] -> [7, 3]", () => checkGrad([[3, 7]], (x) => x.reshape(7, 3)));
  it("reshape with -1", () => checkGrad([[3, 1, 7]], (x) => x.reshape([-1, 3])));
  it("reshape of a transpose (copies)", () => checkGrad([[3, 7]], (x) => x.transpose().reshape(21)));
  it("reshape to and from 0-d", () => checkGrad([[1, 1]], (x) => x.reshape([]).reshape(1)));
  it("view", () => checkGrad([[3, 7]], (x) => x.view([21])));
  it("transpose default (last two)", () => checkGrad([[3, 1, 7]], (x) => x.transpose()));
  it("transpose(0, 2)", () => checkGrad([[3, 1, 7]], (x) => x.transpose(0, 2)));
  it("permute", () => checkGrad([[3, 1, 7, 2]], (x) => x.permute(2, 0, 3, 1)));
  it("permute with negative axes", () => checkGrad([[3, 7, 2]], (x) => x.permute([-1, 0, 1])));
  it("flatten all", () => checkGrad([[3, 1, 7]], (x) => x.flatten()));
  it("flatten(1)", () => checkGrad([[3, 1, 7, 2]], (x) => x.flatten(1)));
  it("flatten(1, 2) of a permute", () => checkGrad([[3, 7, 2]], (x) => x.permute(2, 1, 0).flatten(1, 2)));
  it("squeeze all", () => checkGrad([[1, 3, 1, 7]], (x) => x.squeeze()));
  it("squeeze one axis", () => checkGrad([[3, 1, 7]], (x) => x.squeeze(1)));
  it("unsqueeze", () => checkGrad([[3, 7]], (x) => x.unsqueeze(1).unsqueeze(-1)));
  it("slice along axis 0", () => checkGrad([[7, 3]], (x) => x.slice(0, 2, 5)));
  it("slice with negative indices", () => checkGrad([[7, 3]], (x) => x.slice(-1, -2)));
  it("slice of a transpose", () => checkGrad([[7, 3]], (x) => x.transpose().slice(1, 1, 6)));
  it("overlapping slices of one tensor", () => checkGrad([[7]], (x) => x.slice(0, 0, 5).mul(x.slice(0, 2, 7))));
  it("narrow", () => checkGrad([[3, 7]], (x) => x.narrow(1, 2, 3)));
  it("pad last axis", () => checkGrad([[3, 7]], (x) => x.pad([1, 2])));
  it("pad last two axes with a value", () => checkGrad([[3, 1, 7]], (x) => x.pad([2, 0, 1, 3], 0.5)));
  it("pad every axis of a transpose", () => checkGrad([[3, 7]], (x) => x.transpose().pad([1, 1, 0, 2])));
  it("pad then slice back", () => checkGrad([[3, 7]], (x) => x.pad([1, 1, 1, 1]).slice(0, 1, 4).slice(1, 1, 8).mul(x)));
});

describe("movement operators: values and shapes", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  it("reshape, view and flatten keep row-major order", () => {
    expect(x.reshape(3, 2).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(x.transpose().reshape(-1).toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(x.transpose().flatten().toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(tensor(3).flatten().shape).toEqual([1]);
  });
  it("transpose and permute", () => {
    expect(x.transpose().toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(x.reshape(1, 2, 3).permute(2, 0, 1).shape).toEqual([3, 1, 2]);
  });
  it("squeeze and unsqueeze", () => {
    expect(x.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(0).unsqueeze(2).squeeze().shape).toEqual([2, 3]);
    expect(x.squeeze(0).shape).toEqual([2, 3]);
  });
  it("slice and narrow", () => {
    expect(x.slice(1, 1).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(x.slice(1, -2, -1).toArray()).toEqual([[2], [5]]);
    expect(x.slice(1, 2, 1).shape).toEqual([2, 0]);
    expect(x.narrow(0, 1, 1).toArray()).toEqual([[4, 5, 6]]);
  });
  it("transpose of 0-d and 1-D tensors: the default swap is the identity, like .T", () => {
    expect(tensor([1, 2]).transpose().toArray()).toEqual([1, 2]);
    expect(tensor(1).transpose().toArray()).toBe(1);
    expect(tensor([1, 2]).transpose(0, -1).toArray()).toEqual([1, 2]);
    expect(() => tensor([1, 2]).transpose(0, 1)).toThrow(/transpose: axis must be an integer in \[-1, 0\], but got 1/);
  });
  it("narrow accepts a negative start, like torch.narrow", () => {
    expect(tensor([1, 2, 3]).narrow(0, -2, 2).toArray()).toEqual([2, 3]);
  });
  it("pad in PyTorch's order", () => {
    expect(tensor([[1]]).pad([1, 2]).toArray()).toEqual([[0, 1, 0, 0]]);
    expect(tensor([[1]]).pad([0, 0, 1, 0], 9).toArray()).toEqual([[9], [1]]);
  });
});

describe("movement operators: errors", () => {
  it("a bad reshape names reshape and both shapes", () => {
    expect(() => Tensor.zeros([2, 3]).reshape(4, 2)).toThrow(ShapeError);
    expect(() => Tensor.zeros([2, 3]).reshape(4, 2)).toThrow(/reshape: .*\[2, 3\].*\[4, 2\]/);
    expect(() => Tensor.zeros([2, 3]).reshape(-1, 4)).toThrow(/reshape: .*\[2, 3\].*\[-1, 4\]/);
    expect(() => Tensor.zeros([2, 3]).reshape(-1, -1)).toThrow(ShapeError);
  });
  it("bad axes name the operator", () => {
    expect(() => Tensor.zeros([2, 3]).transpose(0, 2)).toThrow(/transpose: axis/);
    expect(() => Tensor.zeros([2, 3]).permute(0, 0)).toThrow(/permute: dims must be a permutation .* \[0, 0\]/);
    expect(() => Tensor.zeros([2, 3]).permute(0)).toThrow(ArgumentError);
    expect(() => Tensor.zeros([2, 3]).slice(2, 0)).toThrow(/slice: axis/);
    expect(() => Tensor.zeros([2, 3]).unsqueeze(4)).toThrow(/unsqueeze: axis/);
    expect(() => Tensor.zeros([2, 3]).flatten(1, 0)).toThrow(/flatten: startDim/);
  });
  it("a bad narrow or slice names the range", () => {
    expect(() => Tensor.zeros([2, 3]).narrow(1, 2, 2)).toThrow(/narrow: need -3 <= start < 3 and start \+ length <= 3 on axis 1 of \[2, 3\], but got start 2, length 2/);
    expect(() => Tensor.zeros([2, 3]).narrow(1, -4, 1)).toThrow(ArgumentError);
    expect(() => tensor(1).narrow(0, 0, 1)).toThrow(/narrow: a 0-d tensor/);
    expect(() => tensor(1).slice(0, 0)).toThrow(/slice: a 0-d tensor/);
    expect(() => Tensor.zeros([3]).slice(0, 0.5)).toThrow(/slice: start and end must be integers/);
  });
  it("a bad pad names pad and the rule", () => {
    expect(() => Tensor.zeros([2, 3]).pad([1])).toThrow(/pad: padding must be pairs/);
    expect(() => Tensor.zeros([2, 3]).pad([1, 1, 1, 1, 1, 1])).toThrow(ArgumentError);
    expect(() => Tensor.zeros([2, 3]).pad([-1, 1])).toThrow(/pad: .*\[-1, 1\]/);
  });
});
