import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isInRunsRoot, makeFolder, newRunFolder, pointLatest, runFilesIn } from "./run-folder.js";

const root = mkdtempSync(join(tmpdir(), "run-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("run folders", () => {
  it("newRunFolder makes runs/<UTC time>, and <time>-2 for a second run in the same second", () => {
    const runs = join(root, "runs");
    const when = new Date("2026-12-06T10:15:00.250Z");
    expect(newRunFolder(runs, when)).toBe(join(runs, "2026-12-06T10-15-00"));
    expect(newRunFolder(runs, when)).toBe(join(runs, "2026-12-06T10-15-00-2"));
    expect(isInRunsRoot(join(runs, "2026-12-06T10-15-00"), runs)).toBe(true);
  });

  it("pointLatest swaps the link in one rename and leaves no temporary link behind", () => {
    const runs = join(root, "latest-test");
    const a = newRunFolder(runs, new Date("2026-01-01T00:00:00Z"));
    const b = newRunFolder(runs, new Date("2026-01-01T00:00:01Z"));
    expect(pointLatest(a, runs)).toBe(true);
    expect(readlinkSync(join(runs, "latest"))).toBe("2026-01-01T00-00-00");
    expect(pointLatest(b, runs)).toBe(true);
    expect(readlinkSync(join(runs, "latest"))).toBe("2026-01-01T00-00-01");
    expect(readdirSync(runs).sort()).toEqual(["2026-01-01T00-00-00", "2026-01-01T00-00-01", "latest"]);
  });

  it("pointLatest leaves a real folder named latest alone", () => {
    const runs = join(root, "old-layout");
    mkdirSync(join(runs, "latest"), { recursive: true });
    expect(pointLatest(newRunFolder(runs), runs)).toBe(false);
  });

  it("makeFolder makes missing parents, and fails at once where the system refuses (Node's recursive mkdir loops under /proc)", () => {
    makeFolder(join(root, "a", "b", "c"));
    expect(existsSync(join(root, "a", "b", "c"))).toBe(true);
    expect(() => makeFolder("/proc/mnist-train-test/x")).toThrow(expect.objectContaining({ code: "ENOENT", path: "/proc/mnist-train-test" }));
    writeFileSync(join(root, "file"), "");
    expect(() => makeFolder(join(root, "file"))).toThrow(expect.objectContaining({ code: "EEXIST" }));
  });

  it("runFilesIn lists what belongs to a run, nothing else", () => {
    const dir = join(root, "mixed");
    mkdirSync(dir);
    for (const name of ["metrics.json", "epoch-3.ckpt.safetensors", "notes.txt", "interrupted.ckpt.safetensors"]) writeFileSync(join(dir, name), "");
    expect(runFilesIn(dir)).toEqual(["epoch-3.ckpt.safetensors", "interrupted.ckpt.safetensors", "metrics.json"]);
  });
});
