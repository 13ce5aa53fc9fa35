import { describe, expect, it } from "vitest";
import { blockOutputs, outputMismatch } from "./expected-output.js";

describe("blockOutputs", () => {
  it("finds the promised output of each console.log and instruments only those lines", () => {
    const code = [
      'import { tensor } from "@pico/core";',
      "console.log(tensor([1, 2]).sum().item(), f(a)); // 3 x",
      "console.log(shape);   //   [ 3, 2 ]",
      "console.log(url); // see http://example.org // kept whole",
      "console.log(unsaid);",
      "  console.log(nested);",
    ].join("\n");
    const outputs = blockOutputs(code);
    expect(outputs.expectations).toEqual([
      { line: 2, expected: "3 x" },
      { line: 3, expected: "[ 3, 2 ]" },
      { line: 4, expected: "see http://example.org // kept whole" },
    ]);
    expect(outputs.unchecked).toEqual([5, 6]);
    const lines = outputs.instrumented.split("\n");
    expect(lines[1]).toBe("console.logAt(2, tensor([1, 2]).sum().item(), f(a)); // 3 x");
    expect(lines[4]).toBe("console.log(unsaid);");
    expect(lines).toHaveLength(6);
  });

  it("reads an output of several lines from the comment lines below `// prints:`", () => {
    const code = ["console.log(net.toString()); // prints:", "// Net(", "//   (0): Linear()", "// )", "const after = 1;", "// not output"].join("\n");
    expect(blockOutputs(code).expectations).toEqual([{ line: 1, expected: "Net(\n  (0): Linear()\n)" }]);
  });
});

describe("outputMismatch", () => {
  it("exact text, whitespace runs aside", () => {
    expect(outputMismatch("[ 3, 2 ]", "[ 3, 2 ]")).toBeNull();
    expect(outputMismatch("6 4", "6  4 ")).toBeNull();
    expect(outputMismatch("[ 3, 2 ]", "[ 3, 2, 1 ]")).toMatch(/the comment says "\[ 3, 2, 1 \]"/);
    expect(outputMismatch("true", "true, or an error")).not.toBeNull();
    expect(outputMismatch("0.98", "0.980")).not.toBeNull();
  });

  it("≈ compares every number to half a unit of its last written digit", () => {
    expect(outputMismatch("[ 1.0000002, -1.9999998 ]", "≈ [1, -2]")).toBeNull();
    expect(outputMismatch("[ 1.0004, -2.0004 ]", "≈ [1.000, -2.000]")).toBeNull();
    expect(outputMismatch("[ 1.0006, -2 ]", "≈ [1.000, -2.000]")).toMatch(/number 1 is 1.0006, not 1.000 ± 0.0005/);
    expect(outputMismatch("loss 0.9849", "≈ loss 0.98")).toBeNull();
    expect(outputMismatch("loss 0.9851", "≈ loss 0.98")).not.toBeNull();
    expect(outputMismatch("1.2000000000000002e-8", "≈ 1.2e-8")).toBeNull();
    expect(outputMismatch("1.26e-8", "≈ 1.2e-8")).not.toBeNull();
  });

  it("≈ still needs the same text around the numbers", () => {
    expect(outputMismatch("[ 1, -2, 3 ]", "≈ [1, -2]")).toMatch(/does not have the form/);
    expect(outputMismatch("acc 0.99", "≈ loss 0.99")).toMatch(/does not have the form/);
  });
});
