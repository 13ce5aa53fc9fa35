import { describe, expect, it } from "vitest";
import { intFlag, numberFlag, parseCommandLine, usage } from "./args.js";
import { UsageError } from "./errors.js";

describe("parseCommandLine", () => {
  it("takes a value that starts with a dash as the value, for its rule to judge", () => {
    expect(parseCommandLine(["train", "--epochs", "-1", "--lr", "-1e-3"])).toEqual({ command: "train", values: { epochs: "-1", lr: "-1e-3" }, positionals: [] });
  });

  it("skips the -- that pnpm hands on, and reads --flag=value", () => {
    expect(parseCommandLine(["train", "--", "--epochs=3"])).toEqual({ command: "train", values: { epochs: "3" }, positionals: [] });
  });

  it("refuses unknown options and commands with a suggestion", () => {
    expect(() => parseCommandLine(["train", "--epoch", "2"])).toThrow("unknown option '--epoch' (Did you mean --epochs?) (see mnist-train train --help)");
    expect(() => parseCommandLine(["eval", "--epochs", "2"])).toThrow(UsageError);
    expect(() => parseCommandLine(["fit"])).toThrow("unknown command 'fit'");
  });

  it("gives each command's help alone", () => {
    const help = parseCommandLine(["predict", "--help"]);
    expect(help).toEqual({ help: usage("predict") });
    expect(usage("predict")).not.toContain("--epochs");
    expect(usage("eval")).not.toContain("--resume");
    expect(usage("train")).toContain("--resume <FILE>");
  });
});

describe("flag readers", () => {
  it("intFlag takes plain digits in range only", () => {
    expect(intFlag({ epochs: "12" }, "epochs", 5)).toBe(12);
    expect(intFlag({}, "epochs", 5)).toBe(5);
    for (const bad of ["-1", "0", "1e3", "2.5", "0x10", "", " ", "three"]) {
      expect(() => intFlag({ epochs: bad }, "epochs", 5)).toThrow(`--epochs must be an integer >= 1, but got '${bad}'`);
    }
    expect(() => intFlag({ threads: "17" }, "threads", 1, 1, 16)).toThrow("--threads must be an integer from 1 to 16, but got '17'");
    expect(intFlag({ seed: "0" }, "seed", 1, 0)).toBe(0);
  });

  it("numberFlag takes finite numbers > 0", () => {
    expect(numberFlag({ lr: "1e-3" }, "lr", 1)).toBe(1e-3);
    for (const bad of ["-1", "0", "Infinity", "NaN", "", "fast"]) expect(() => numberFlag({ lr: bad }, "lr", 1)).toThrow(`--lr must be a number > 0, but got '${bad}'`);
  });
});
