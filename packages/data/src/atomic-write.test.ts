import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "./atomic-write.js";

const dir = mkdtempSync(join(tmpdir(), "pico-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("creates and replaces a file, leaving no temporary file behind", () => {
    const path = join(dir, "metrics.json");
    writeFileAtomic(path, "first");
    writeFileAtomic(path, Uint8Array.from([115, 101, 99, 111, 110, 100]));
    expect(readFileSync(path, "utf8")).toBe("second");
    expect(readdirSync(dir)).toEqual(["metrics.json"]);
  });

  it("removes its temporary file and throws when the final rename fails", () => {
    const path = join(dir, "taken");
    mkdirSync(path);
    writeFileSync(join(path, "inner"), "keep");
    expect(() => writeFileAtomic(path, "data")).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir).sort()).toEqual(["metrics.json", "taken"]);
    expect(readFileSync(join(path, "inner"), "utf8")).toBe("keep");
  });

  it("throws when the folder does not exist", () => {
    expect(() => writeFileAtomic(join(dir, "no-such-folder", "f"), "x")).toThrow(/does not exist/);
  });
});
