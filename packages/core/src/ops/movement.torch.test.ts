import { compareWithTorch, describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Tensor } from "../tensor.js";

type One = [name: string, shape: number[], pico: (a: Tensor) => Tensor, torch: string];

const CASES: One[] = [
  ["reshape", [2, 3, 4], (a) => a.reshape([4, 6]), "a.reshape(4, 6)"],
  ["reshape -1", [2, 3, 4], (a) => a.reshape(3, -1), "a.reshape(3, -1)"],
  ["reshape to 0-d", [1, 1], (a) => a.reshape([]), "a.reshape(())"],
  ["view", [2, 3, 4], (a) => a.view(6, 4), "a.view(6, 4)"],
  ["reshape of a transpose", [3, 4], (a) => a.transpose().reshape([12]), "a.t().reshape(12)"],
  ["flatten", [2, 3, 4], (a) => a.flatten(), "a.flatten()"],
  ["flatten(1)", [2, 3, 4, 5], (a) => a.flatten(1), "a.flatten(1)"],
  ["flatten(1, 2)", [2, 3, 4, 5], (a) => a.flatten(1, 2), "a.flatten(1, 2)"],
  ["flatten 0-d", [], (a) => a.flatten(), "a.flatten()"],
  ["unsqueeze(0)", [3, 4], (a) => a.unsqueeze(0), "a.unsqueeze(0)"],
  ["unsqueeze(-1)", [3, 4], (a) => a.unsqueeze(-1), "a.unsqueeze(-1)"],
  ["squeeze()", [1, 3, 1, 4], (a) => a.squeeze(), "a.squeeze()"],
  ["squeeze(2)", [1, 3, 1, 4], (a) => a.squeeze(2), "a.squeeze(2)"],
  ["squeeze(1) of a non-1 axis", [1, 3, 1, 4], (a) => a.squeeze(1), "a.squeeze(1)"],
  ["transpose()", [3, 4], (a) => a.transpose(), "a.transpose(-2, -1)"],
  ["transpose(0, 2)", [2, 3, 4], (a) => a.transpose(0, 2), "a.transpose(0, 2)"],
  ["transpose of 1-D", [5], (a) => a.transpose(), "a.T"],
  ["permute", [2, 3, 4, 5], (a) => a.permute(2, 0, 3, 1), "a.permute(2, 0, 3, 1)"],
  ["permute negative", [2, 3, 4], (a) => a.permute([-1, 0, 1]), "a.permute(-1, 0, 1)"],
  ["expand", [3, 1], (a) => a.expand(2, 3, 4), "a.expand(2, 3, 4)"],
  ["expand -1", [1, 4], (a) => a.expand([3, -1]), "a.expand(3, -1)"],
  ["expand 0-d", [], (a) => a.expand([2, 3]), "a.expand(2, 3)"],
  ["expand then mul", [3, 1], (a) => a.expand(3, 4).mul(a.expand(3, 4)), "a.expand(3, 4) * a.expand(3, 4)"],
  ["slice", [5, 4], (a) => a.slice(0, 1, 4), "a[1:4]"],
  ["slice negative", [5, 4], (a) => a.slice(1, -3, -1), "a[:, -3:-1]"],
  ["slice past the end", [5, 4], (a) => a.slice(1, 2, 10), "a[:, 2:10]"],
  ["slice empty", [5, 4], (a) => a.slice(0, 3, 2), "a[3:2]"],
  ["narrow", [3, 6], (a) => a.narrow(1, 2, 3), "a.narrow(1, 2, 3)"],
  ["narrow negative start", [3, 6], (a) => a.narrow(-1, -4, 2), "a.narrow(-1, -4, 2)"],
  ["pad last axis", [2, 3], (a) => a.pad([1, 2]), "F.pad(a, (1, 2))"],
  ["pad two axes with a value", [2, 3, 4], (a) => a.pad([0, 1, 2, 0], -1.5), "F.pad(a, (0, 1, 2, 0), value=-1.5)"],
  ["pad three axes", [2, 3, 4], (a) => a.pad([1, 1, 0, 2, 3, 0]), "F.pad(a, (1, 1, 0, 2, 3, 0))"],
  ["clone", [3, 4], (a) => a.clone(), "a.clone()"],
  ["view splitting an axis of a slice", [4, 6], (a) => a.slice(1, 0, 4).view(4, 2, 2), "a[:, 0:4].view(4, 2, 2)"],
  ["view merging axes of a slice", [4, 3, 6], (a) => a.slice(2, 1, 5).view(12, 4), "a[:, :, 1:5].view(12, 4)"],
  ["slice of a slice", [6, 5], (a) => a.slice(0, 1).slice(1, 0, 3).transpose(), "a[1:][:, 0:3].t()"],
];

describeTorch("movement operators vs torch", () => {
  for (const [name, shape, pico, torch] of CASES) {
    it(`${name} x=[${shape}]`, () => compareWithTorch([shape], pico, torch, { label: name }));
    if (shape.length > 0 && !name.startsWith("view")) it(`${name} x=[${shape}] strided`, () => compareWithTorch([shape], pico, torch, { strided: true, label: `${name} strided` }));
  }

  it("view refuses what torch's view refuses, and reshape copies instead", async () => {
    await expect(oracle().run({ inputs: { a: Tensor.zeros([3, 4]) }, code: "a.t().view(12)" })).rejects.toThrow(/view size is not compatible with input tensor's size and stride/);
    expect(() => Tensor.zeros([3, 4]).transpose().view(12)).toThrow(/view: shape \[12\] is not compatible .* use reshape/);
    await expect(oracle().run({ inputs: { a: Tensor.zeros([4, 6]) }, code: "a[:, 0:4].view(16)" })).rejects.toThrow(/view size is not compatible/);
    expect(() => Tensor.zeros([4, 6]).slice(1, 0, 4).view(16)).toThrow(/view: shape \[16\] is not compatible/);
  });

  const cat3 = (axis: number) => (a: Tensor, b: Tensor, c: Tensor): Tensor => Tensor.cat([a, b, c], axis);
  it("cat axis 0", () => compareWithTorch([[2, 3], [1, 3], [4, 3]], cat3(0), "torch.cat([a, b, c], 0)"));
  it("cat axis 1", () => compareWithTorch([[2, 3, 4], [2, 1, 4], [2, 2, 4]], cat3(1), "torch.cat([a, b, c], 1)"));
  it("cat axis -1", () => compareWithTorch([[2, 3], [2, 5], [2, 1]], cat3(-1), "torch.cat([a, b, c], -1)"));
  it("cat strided", () => compareWithTorch([[2, 3], [2, 5], [2, 1]], cat3(1), "torch.cat([a, b, c], 1)", { strided: true }));
  it("cat of one tensor used twice", () => compareWithTorch([[2, 3]], (a) => Tensor.cat([a, a.mul(2)], 0), "torch.cat([a, a * 2], 0)"));
  const stack3 = (axis: number) => (a: Tensor, b: Tensor, c: Tensor): Tensor => Tensor.stack([a, b, c], axis);
  for (const axis of [0, 1, 2, -1]) {
    it(`stack axis ${axis}`, () => compareWithTorch([[2, 3], [2, 3], [2, 3]], stack3(axis), `torch.stack([a, b, c], ${axis})`, { label: `stack ${axis}` }));
  }
  it("stack of 0-d tensors", () => compareWithTorch([[], []], (a, b) => Tensor.stack([a, b]), "torch.stack([a, b])"));
});
