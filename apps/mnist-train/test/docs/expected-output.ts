/**
 * The output a documentation block promises: a `console.log(...)` statement on one line followed by a
 * comment with what it prints, e.g. `console.log(a.grad?.item()); // 6`. The printed text (as Node's
 * console.log formats it) must equal the comment, runs of white space aside; a comment starting with `≈`
 * compares each number to the precision it is written with (`≈ 0.98` accepts 0.975 to 0.985) and the rest
 * of the text exactly. Output of several lines: the comment is `// prints:` and the comment lines right
 * below it hold the output, one `// ` line per printed line.
 */
export interface Expectation {
  /** 1-based line within the block. */
  line: number;
  expected: string;
}

export interface BlockOutputs {
  expectations: Expectation[];
  /** Lines that call console.log without saying what it prints. */
  unchecked: number[];
  /** The block with each checked `console.log(` turned into `console.logAt(<line>, ` for the recorder. */
  instrumented: string;
}

const CHECKED_LOG = /^(.*?)console\.log\((.*\);)\s*\/\/ ?(.*)$/;
const MULTI_LINE = "prints:";

export function blockOutputs(code: string): BlockOutputs {
  const expectations: Expectation[] = [];
  const unchecked: number[] = [];
  const source = code.split("\n");
  const lines = source.map((text, index) => {
    const line = index + 1;
    const checked = CHECKED_LOG.exec(text);
    if (checked !== null) {
      let expected = checked[3]!.trim();
      if (expected === MULTI_LINE) {
        const output: string[] = [];
        for (let k = index + 1; k < source.length && /^\s*\/\//.test(source[k]!); k++) output.push(source[k]!.replace(/^\s*\/\/ ?/, ""));
        expected = output.join("\n");
      }
      expectations.push({ line, expected });
      return `${checked[1]!}console.logAt(${line}, ${checked[2]!} // ${checked[3]!}`;
    }
    if (/\bconsole\.log\(/.test(text)) unchecked.push(line);
    return text;
  });
  return { expectations, unchecked, instrumented: lines.join("\n") };
}

const NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;

/** Half a unit in the last digit written: "0.98" -> 0.005, "2" -> 0.5, "1.2e-8" -> 5e-10. */
function halfLastDigit(literal: string): number {
  const [mantissa, exponent] = literal.toLowerCase().split("e");
  const decimals = mantissa!.includes(".") ? mantissa!.split(".")[1]!.length : 0;
  return 0.5 * 10 ** (Number(exponent ?? 0) - decimals);
}

/** Why `printed` is not what `expected` promises, or null when it is. */
export function outputMismatch(printed: string, expected: string): string | null {
  if (!expected.startsWith("≈")) {
    const squeeze = (text: string): string => text.trim().replace(/\s+/g, " ");
    return squeeze(printed) === squeeze(expected) ? null : `printed ${JSON.stringify(printed)}, the comment says ${JSON.stringify(expected)}`;
  }
  const want = expected.slice(1).trim();
  const shape = (text: string): string => text.replace(NUMBER, "#").replace(/\s+/g, "");
  if (shape(printed) !== shape(want)) return `printed ${JSON.stringify(printed)}, which does not have the form of ${JSON.stringify(want)}`;
  const got = printed.match(NUMBER) ?? [];
  const wanted = want.match(NUMBER) ?? [];
  for (let i = 0; i < wanted.length; i++) {
    const tolerance = halfLastDigit(wanted[i]!);
    if (!(Math.abs(Number(got[i]) - Number(wanted[i])) <= tolerance * (1 + 1e-9))) {
      return `printed ${JSON.stringify(printed)}: number ${i + 1} is ${got[i]}, not ${wanted[i]} ± ${tolerance}`;
    }
  }
  return null;
}
