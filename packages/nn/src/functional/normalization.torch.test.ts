import { Tensor, type DType } from "@pico/core";
import { compareWithTorch, describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { GroupNorm } from "../layers/group-norm.js";
import { InstanceNorm2d } from "../layers/instance-norm2d.js";
import { LayerNorm } from "../layers/layer-norm.js";
import { groupNorm } from "./group-norm.js";
import { instanceNorm } from "./instance-norm.js";
import { layerNorm } from "./layer-norm.js";

describeTorch("layerNorm, groupNorm, instanceNorm vs torch: output, input, weight and bias gradients", () => {
  it("layerNorm over the last axis [4, 6] with weight and bias", () =>
    compareWithTorch([[4, 6], [6], [6]], (a, w, b) => layerNorm(a, [6], { weight: w, bias: b }), "F.layer_norm(a, (6,), b, c)"));
  it("layerNorm over the last two axes [2, 3, 4, 5], eps 1e-3", () =>
    compareWithTorch([[2, 3, 4, 5], [4, 5], [4, 5]], (a, w, b) => layerNorm(a, [4, 5], { weight: w, bias: b, eps: 1e-3 }), "F.layer_norm(a, (4, 5), b, c, eps=1e-3)"));
  it("layerNorm without affine, non-contiguous [3, 2, 5]", () => compareWithTorch([[3, 2, 5]], (a) => layerNorm(a, [5]), "F.layer_norm(a, (5,))", { strided: true }));
  it("LayerNorm(8) on [2, 5, 8]", () => compareWithTorch([[2, 5, 8]], (a) => new LayerNorm(8, { dtype: a.dtype }).forward(a), "nn.LayerNorm(8).to(a.dtype)(a)"));
  it("groupNorm 2 groups of 3 channels [2, 6, 3, 4] with weight and bias", () =>
    compareWithTorch([[2, 6, 3, 4], [6], [6]], (a, w, b) => groupNorm(a, 2, { weight: w, bias: b }), "F.group_norm(a, 2, b, c)"));
  it("groupNorm one group (LayerNorm over C, H, W) at batch size 1 [1, 4, 5, 5]", () => compareWithTorch([[1, 4, 5, 5]], (a) => groupNorm(a, 1), "F.group_norm(a, 1)"));
  it("groupNorm one group per channel on [3, 4, 7] non-contiguous", () =>
    compareWithTorch([[3, 4, 7], [4], [4]], (a, w, b) => groupNorm(a, 4, { weight: w, bias: b, eps: 1e-2 }), "F.group_norm(a, 4, b, c, eps=1e-2)", { strided: true }));
  it("GroupNorm(3, 6) on [2, 6, 4, 4]", () => compareWithTorch([[2, 6, 4, 4]], (a) => new GroupNorm(3, 6, { dtype: a.dtype }).forward(a), "nn.GroupNorm(3, 6).to(a.dtype)(a)"));
  it("instanceNorm [2, 3, 5, 4] with weight and bias", () =>
    compareWithTorch([[2, 3, 5, 4], [3], [3]], (a, w, b) => instanceNorm(a, { weight: w, bias: b }), "F.instance_norm(a, weight=b, bias=c)"));
  it("instanceNorm on [2, 3, 6] (1-D instances), non-contiguous", () => compareWithTorch([[2, 3, 6]], (a) => instanceNorm(a), "F.instance_norm(a)", { strided: true }));
  it("InstanceNorm2d(3, affine) on [2, 3, 4, 4] and unbatched [3, 4, 4]", async () => {
    await compareWithTorch([[2, 3, 4, 4]], (a) => new InstanceNorm2d(3, { affine: true, dtype: a.dtype }).forward(a), "nn.InstanceNorm2d(3, affine=True).to(a.dtype)(a)");
    await compareWithTorch([[3, 4, 4]], (a) => new InstanceNorm2d(3, { dtype: a.dtype }).forward(a), "nn.InstanceNorm2d(3).to(a.dtype)(a)");
  });
});

describeTorch("normalisation layers' state dicts and running statistics are torch's", () => {
  it("keys and shapes", async () => {
    const r = await oracle().run({
      code: "out = [[[k, list(v.shape)] for k, v in m.state_dict().items()] for m in [nn.LayerNorm((4, 5)), nn.GroupNorm(2, 6), nn.InstanceNorm2d(3, affine=True, track_running_stats=True), nn.LayerNorm(3, elementwise_affine=False)]]",
    });
    const mine = [new LayerNorm([4, 5]), new GroupNorm(2, 6), new InstanceNorm2d(3, { affine: true, trackRunningStats: true }), new LayerNorm(3, { elementwiseAffine: false })].map((m) =>
      Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]),
    );
    expect(mine).toEqual(r.values.out);
  });

  for (const dtype of ["float64", "float32"] as DType[]) {
    it(`InstanceNorm2d with tracked statistics: two training steps, then evaluation (${dtype})`, async () => {
      const m = new InstanceNorm2d(3, { trackRunningStats: true, momentum: 0.3, dtype });
      const x1 = Tensor.randn([2, 3, 4, 5], { dtype }).mul(2).add(1);
      const x2 = Tensor.randn([3, 3, 4, 5], { dtype });
      m.train();
      m.forward(x1);
      m.forward(x2);
      const evalOut = m.eval().forward(x1);
      const r = await oracle().run({
        inputs: { x1, x2 },
        code: "m = nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.3).to(x1.dtype)\nm(x1)\nm(x2)\nm.eval()\ny = m(x1)\nrm = m.running_mean\nrv = m.running_var",
        outputs: ["y", "rm", "rv"],
      });
      const tol = dtype === "float64" ? 1e-12 : 1e-5;
      const near = (a: Float64Array | Float32Array, b: Float64Array): void => b.forEach((v, i) => expect(Math.abs(a[i]! - v)).toBeLessThan(tol * (1 + Math.abs(v))));
      near(m.running_mean!.toTypedArray(), r.tensor("rm").data);
      near(m.running_var!.toTypedArray(), r.tensor("rv").data);
      near(evalOut.toTypedArray(), r.tensor("y").data);
    });
  }
});
