import { RTOL, describeTorch, expectTorchClose, oracle, torchInput } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { Generator } from "../random.js";
import { Tensor } from "../tensor.js";

// Each operator saves what torch's saves: a write into an input or into the output between forward and
// backward (data written, then bumpVersion, as torch's in-place ops under no_grad bump the counter) makes
// backward raise "modified by an inplace operation" exactly where torch 1.13 raises, and otherwise gives
// torch's gradients (computed from the values saved before the write).

const INPLACE = "modified by an inplace operation";

type Op = [name: string, pico: (a: Tensor, b: Tensor) => Tensor, torch: string];

const OPS: Op[] = [
  ["div", (a, b) => a.div(b), "a / b"],
  ["mul", (a, b) => a.mul(b), "a * b"],
  ["add", (a, b) => a.add(b), "a + b"],
  ["pow", (a, b) => a.pow(b), "a.pow(b)"],
  ["matmul", (a, b) => a.matmul(b), "a @ b"],
  ["maximum", (a, b) => a.maximum(b), "torch.maximum(a, b)"],
  ["exp", (a) => a.exp(), "a.exp()"],
  ["log", (a) => a.log(), "a.log()"],
  ["sqrt", (a) => a.sqrt(), "a.sqrt()"],
  ["sigmoid", (a) => a.sigmoid(), "a.sigmoid()"],
  ["tanh", (a) => a.tanh(), "a.tanh()"],
  ["relu", (a) => a.relu(), "a.relu()"],
  ["abs", (a) => a.abs(), "a.abs()"],
];

type Target = "a" | "b" | "y";

async function run([name, pico, torch]: Op, target: Target, bRequiresGrad: boolean): Promise<void> {
  const gen = new Generator(11);
  const a0 = Tensor.rand([3, 3], { dtype: "float64", generator: gen }).add(0.5);
  const b0 = Tensor.rand([3, 3], { dtype: "float64", generator: gen }).add(0.5);
  const up = Tensor.randn([3, 3], { dtype: "float64", generator: gen });
  // Torch's copies, taken before anything is written (a and b share their buffers with a0 and b0).
  const inputs = { a0: torchInput(a0.clone(), { requiresGrad: false }), b0: torchInput(b0.clone(), { requiresGrad: false }), up: torchInput(up, { requiresGrad: false }) };
  const a = a0.detach();
  a.requiresGrad = true;
  const b = b0.detach();
  b.requiresGrad = bRequiresGrad;
  const y = pico(a, b);
  const written = { a, b, y }[target];
  const data = written.data.data;
  for (let i = 0; i < written.size; i++) data[written.data.offset + i] = data[written.data.offset + i]! + 0.5;
  written.bumpVersion();
  let message = "";
  try {
    y.mul(up).sum().backward();
  } catch (error) {
    message = String(error);
  }
  const r = await oracle().run({
    inputs,
    code: `
a = a0.clone().requires_grad_(True)
b = b0.clone().requires_grad_(${bRequiresGrad ? "True" : "False"})
y = ${torch}
with torch.no_grad():
    ${target}.add_(0.5)
try:
    (y * up).sum().backward()
    error = ""
except RuntimeError as e:
    error = str(e)
ga = a.grad
gb = b.grad`,
    outputs: ["error", "ga", "gb"],
  });
  const torchError = r.values.error as string;
  // torch's own inconsistency (README, "In-place writes"): a tensor exponent that needs no gradient still has
  // PowBackward1 keep the result, which only the exponent's gradient reads; Pico keeps it only for that gradient
  // (as torch's own Div keeps a only for b's), so a.pow(2) and a.pow(tensor) behave alike.
  if (name === "pow" && target === "y" && !bRequiresGrad) {
    expect(torchError).toContain(INPLACE);
    expect(message).toBe("");
    return;
  }
  const label = `${name}, ${target} written${bRequiresGrad ? "" : ", b without grad"}`;
  expect(message.includes(INPLACE), `${label}: Pico ${message || "backpropagated"}, torch ${torchError || "backpropagated"}`).toBe(torchError.includes(INPLACE));
  if (torchError === "") {
    expectTorchClose(`${label} grad a`, a.grad!, r.tensor("ga"), RTOL.float64);
    if (bRequiresGrad && r.values.gb !== null) expectTorchClose(`${label} grad b`, b.grad!, r.tensor("gb"), RTOL.float64);
  }
}

describeTorch("writes between forward and backward vs torch: raises where torch raises", () => {
  for (const op of OPS) {
    const binary = op[2].includes("b");
    for (const target of (binary ? ["a", "b", "y"] : ["a", "y"]) as Target[]) {
      it(`${op[0]}, ${target} written`, () => run(op, target, true));
      if (binary && target !== "b") it(`${op[0]}, ${target} written, b without grad`, () => run(op, target, false));
    }
  }
});
