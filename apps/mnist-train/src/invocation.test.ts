import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commandLine, trainInvocation } from "./invocation.js";

describe("trainInvocation", () => {
  it("repeats how train was started: pnpm's script, the installed bin, or node and the script's path", () => {
    const script = "turbo run build --filter=mnist-train... && node apps/mnist-train/dist/cli.js train -- --epochs 2";
    expect(trainInvocation({ npm_lifecycle_event: "train", npm_lifecycle_script: script }, "/x/cli.js")).toEqual(["pnpm", "train", "--"]);
    expect(trainInvocation({}, "/usr/local/bin/mnist-train")).toEqual(["mnist-train", "train"]);
    expect(trainInvocation({}, join(process.cwd(), "dist", "cli.js"))).toEqual(["node", join("dist", "cli.js"), "train"]);
    expect(trainInvocation({}, "/elsewhere/cli.js")).toEqual(["node", "/elsewhere/cli.js", "train"]);
  });
});

describe("commandLine", () => {
  it("quotes only the words a shell would split or expand", () => {
    expect(commandLine(["node", "cli.js", "--resume", "runs/2026-12-06T10-15-00/interrupted.ckpt.safetensors"])).toBe(
      "node cli.js --resume runs/2026-12-06T10-15-00/interrupted.ckpt.safetensors",
    );
    expect(commandLine(["--resume", "my runs/it's.ckpt"])).toBe("--resume 'my runs/it'\\''s.ckpt'");
  });
});
