import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataLoader } from "./data-loader.js";
import { DatasetError, ImageError } from "./errors.js";
import { ImageFolder } from "./image-folder.js";

const root = mkdtempSync(join(tmpdir(), "pico-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function solid(path: string, w: number, h: number, value: number, format: "png" | "jpeg"): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: value, g: value, b: value } } });
  await (format === "png" ? img.png() : img.jpeg({ quality: 100 })).toFile(path);
}

beforeAll(async () => {
  for (const cls of ["zebra", "ant", "cat"]) mkdirSync(join(root, "set", cls), { recursive: true });
  await solid(join(root, "set", "zebra", "b.png"), 5, 7, 255, "png");
  await solid(join(root, "set", "zebra", "a.JPG"), 9, 3, 0, "jpeg");
  await solid(join(root, "set", "ant", "x.png"), 4, 4, 102, "png");
  await solid(join(root, "set", "cat", "y.jpeg"), 6, 2, 204, "jpeg");
  writeFileSync(join(root, "set", "cat", "notes.txt"), "not an image");
  writeFileSync(join(root, "set", "README"), "a file beside the class folders");
});

describe("ImageFolder", () => {
  it("takes sorted sub-folder names as classes and sorted image files as samples", async () => {
    const ds = await ImageFolder.load(join(root, "set"), { grayscale: true, size: [8, 6] });
    expect(ds.classes).toEqual(["ant", "cat", "zebra"]);
    expect(ds.classToIdx).toEqual({ ant: 0, cat: 1, zebra: 2 });
    expect(ds.length).toBe(4);
    expect(ds.samples.map(([p, c]) => [p.slice(root.length), c])).toEqual([
      ["/set/ant/x.png", 0],
      ["/set/cat/y.jpeg", 1],
      ["/set/zebra/a.JPG", 2],
      ["/set/zebra/b.png", 2],
    ]);
    expect(ds.sampleShape).toEqual([1, 8, 6]);
    const { input, target } = ds.get(1);
    expect(target).toBe(1);
    expect(input.shape).toEqual([1, 8, 6]);
    for (const v of input.toTypedArray()) expect(v).toBeCloseTo(0.8, 1);
    expect(Math.max(...ds.get(2).input.toTypedArray())).toBeLessThan(0.05);
  });

  it("batches through the DataLoader", async () => {
    const ds = await ImageFolder.load(join(root, "set"), { size: 4 });
    const [x, t] = new DataLoader(ds, { batchSize: 4 }).batches().next().value!;
    expect(x.shape).toEqual([4, 3, 4, 4]);
    expect(Array.from(t.toTypedArray())).toEqual([0, 1, 2, 2]);
    expect(x.toTypedArray()[0]).toBeCloseTo(0.4, 2);
  });

  it("keeps natural sizes without size, with no common sampleShape", async () => {
    const ds = await ImageFolder.load(join(root, "set"));
    expect(ds.sampleShape).toBeUndefined();
    expect(ds.getInto).toBeUndefined();
    expect(ds.get(3).input.shape).toEqual([3, 7, 5]);
  });

  it("refuses a missing root, a root without class folders, empty classes and unreadable images", async () => {
    await expect(ImageFolder.load(join(root, "nope"))).rejects.toThrow(DatasetError);
    await expect(ImageFolder.load(join(root, "nope"))).rejects.toThrow(/ImageFolder: cannot read folder .*nope/);
    mkdirSync(join(root, "flat"));
    await expect(ImageFolder.load(join(root, "flat"))).rejects.toThrow(/has no sub-folders; expected one sub-folder of images per class/);
    mkdirSync(join(root, "hollow", "a"), { recursive: true });
    mkdirSync(join(root, "hollow", "b"), { recursive: true });
    await solid(join(root, "hollow", "a", "1.png"), 2, 2, 0, "png");
    await expect(ImageFolder.load(join(root, "hollow"))).rejects.toThrow(/no .png\/.jpg\/.jpeg files in the class folder\(s\) b of/);
    mkdirSync(join(root, "broken", "a"), { recursive: true });
    writeFileSync(join(root, "broken", "a", "bad.png"), "garbage");
    await expect(ImageFolder.load(join(root, "broken"))).rejects.toThrow(ImageError);
    await expect(ImageFolder.load(join(root, "broken"))).rejects.toThrow(/cannot read image .*broken\/a\/bad.png/);
  });
});
