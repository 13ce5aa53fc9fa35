import { Tensor } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { expect, it } from "vitest";
import { resize } from "./resize.js";
import { applyTransform } from "./transform.js";

describeTorch("resize vs torch's F.interpolate (align_corners=False)", () => {
  for (const [from, to, mode] of [
    [[2, 5, 7], [9, 4], "bilinear"],
    [[1, 28, 28], [14, 14], "bilinear"],
    [[3, 6, 4], [13, 11], "bilinear"],
    [[2, 5, 7], [9, 4], "nearest"],
    [[1, 7, 6], [3, 14], "nearest"],
  ] as const) {
    it(`${JSON.stringify(from)} -> ${JSON.stringify(to)} ${mode}`, async () => {
      const x = Tensor.rand([...from]);
      const mine = applyTransform(resize([to[0], to[1]], { interpolation: mode }), x);
      const extra = mode === "bilinear" ? ", align_corners=False" : "";
      const r = await oracle().run({ inputs: { x }, code: `F.interpolate(x[None], size=(${to[0]}, ${to[1]}), mode='${mode}'${extra})[0]` });
      const want = r.tensor("out");
      expect(mine.shape).toEqual(want.shape);
      const got = mine.toTypedArray();
      want.data.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-6));
    });
  }
});
