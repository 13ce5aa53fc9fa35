import { Tensor, tensor } from "@pico/core";
import { expect, it } from "vitest";
import { compareWithTorch, CompareError, describeTorch, oracle, OracleError, oracleStats, TorchOracle, TorchTensor, torchInput } from "./index.js";

describeTorch("torch oracle", () => {
  it("returns outputs and the gradient of every input that requires grad", async () => {
    const a = tensor([1, 5, 3], { dtype: "float64", requiresGrad: true });
    const b = tensor([4, 2, 3], { dtype: "float64", requiresGrad: true });
    const r = await oracle().run({ inputs: { a, b }, code: "out = torch.maximum(a, b)", grad: true });
    expect(r.tensor().shape).toEqual([3]);
    expect([...r.tensor().data]).toEqual([4, 5, 3]);
    expect(r.tensor().dtype).toBe("float64");
    // torch 1.13 splits the gradient of maximum evenly at a tie.
    expect([...r.grad("a").data]).toEqual([0, 1, 0.5]);
    expect([...r.grad("b").data]).toEqual([1, 0, 0.5]);
  });

  it("takes upstream gradients, dicts of tensors, numbers and returns several outputs", async () => {
    const state = { weight: torchInput([1, 2, 3, 4, 5, 6], { shape: [2, 3], requiresGrad: true }), bias: torchInput([0.5, -0.5], { shape: [2], requiresGrad: true }) };
    const r = await oracle().run({
      inputs: { state, x: torchInput([1, 0, -1], { shape: [1, 3] }), scale: 2 },
      code: "y = F.linear(x, state['weight'], state['bias']) * scale\nn = int(y.numel())\ninfo = {'sum': float(y.sum()), 'nan': float('nan')}",
      outputs: ["y", "n", "info"],
      grad: true,
      upstream: { y: torchInput([1, 10], { shape: [1, 2] }) },
    });
    expect([...r.tensor("y").data]).toEqual([-3, -5]);
    expect(r.number("n")).toBe(2);
    expect(r.number("info.sum")).toBe(-8);
    expect(r.number("info.nan")).toBeNaN();
    expect([...r.grad("state.weight").data]).toEqual([2, 0, -2, 20, 0, -20]);
    expect([...r.grad("state.bias").data]).toEqual([2, 20]);
    expect(r.grads.x).toBeUndefined();
  });

  it("keeps int64 inputs, strided layouts and the store between requests", async () => {
    const r1 = await oracle().run({
      inputs: { t: torchInput([2, 0, 1], { dtype: "int64" }), s: torchInput([1, 2, 3, 4, 5, 6], { shape: [2, 3], strided: true }) },
      code: "store['kept'] = 42\nout = (t.dtype, s.is_contiguous(), s.stride(), s.sum())",
    });
    expect(r1.out).toEqual(["int64", false, [1, 3], expect.any(TorchTensor)]);
    const r2 = await oracle().run({ code: "store['kept'] + 1" });
    expect(r2.out).toBe(43);
  });

  it("reports Python's error with the code, and keeps serving afterwards", async () => {
    await expect(oracle().run({ code: "torch.ones(2) + torch.ones(3)" })).rejects.toThrow(OracleError);
    await expect(oracle().run({ code: "torch.ones(2) + torch.ones(3)" })).rejects.toThrow(/RuntimeError: The size of tensor a \(2\) must match/);
    const r = await oracle().run({ code: "torch.ones(2).sum()" });
    expect(r.tensor().item()).toBe(2);
  });

  it("serves each worker from a process the run's zygote forked, or from a child of its own without one", async () => {
    const ppid = "import os\nout = os.getppid()";
    const socket = process.env.PICO_TORCH_SOCKET;
    expect(socket, "the vitest global setup starts the zygote").toBeTruthy();
    expect((await oracle().run({ code: ppid })).number()).not.toBe(process.pid);
    delete process.env.PICO_TORCH_SOCKET;
    const own = new TorchOracle();
    try {
      expect((await own.run({ code: ppid })).number()).toBe(process.pid);
    } finally {
      own.close();
      process.env.PICO_TORCH_SOCKET = socket;
    }
  });

  it("compareWithTorch checks forward and gradients in both dtypes", async () => {
    const before = oracleStats();
    await compareWithTorch([[3, 4], [4]], (a, b) => a.mul(b).tanh(), "torch.tanh(a * b)");
    const after = oracleStats();
    expect(after.cases - before.cases).toBe(2);
    expect(after.arrays - before.arrays).toBe(6);
    expect(after.elements - before.elements).toBe(2 * (12 + 12 + 4));
    expect(after.worst.float64.deviation).toBeLessThan(1e-12);
    expect(after.worst.float32.deviation).toBeLessThan(1e-5);
  });

  it("compareWithTorch handles several outputs, strided inputs and integer inputs", async () => {
    await compareWithTorch([[2, 3]], (a) => [a.exp(), a.sum(0)], "(a.exp(), a.sum(0))", { strided: true });
    await compareWithTorch(
      [[4, 3], [4]],
      (a, t) => a.logSoftmax(1).mul(t.unsqueeze(1).eq(Tensor.arange(3, undefined, 1, { dtype: a.dtype }).reshape([1, 3])).to(a.dtype)).sum().neg(),
      "F.nll_loss(F.log_softmax(a, 1), b, reduction='sum')",
      { inputs: [undefined, { int: 3 }] },
    );
  });

  it("compareWithTorch fails on a wrong value, a wrong gradient, a wrong shape and a wrong dtype", async () => {
    await expect(compareWithTorch([[3]], (a) => a.exp(), "torch.exp(a) * (1 + 1e-8)", { dtypes: ["float64"] })).rejects.toThrow(
      /torch\.exp\(a\) \* \(1 \+ 1e-8\) \[float64\]: output differs at \[\d\]/,
    );
    await expect(compareWithTorch([[3]], (a) => a.mul(a), "a.detach() * a", { dtypes: ["float64"] })).rejects.toThrow(/gradient of a differs/);
    await expect(compareWithTorch([[3]], (a) => a.sum(), "a.sum(0, keepdim=True)")).rejects.toThrow(/torch failed: .*the upstream gradient for out has shape \[\], but out has shape \[1\]/);
    await expect(compareWithTorch([[3]], (a) => a.sum(0, true), "a.sum()", { grad: false })).rejects.toThrow(/shape \[1\] in Pico but \[\] in torch/);
    await expect(compareWithTorch([[3]], (a) => a.to("float32"), "a", { dtypes: ["float64"] })).rejects.toThrow(CompareError);
  });
});
