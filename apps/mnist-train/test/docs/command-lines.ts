import { codeBlocks, withoutCodeBlocks } from "./markdown.js";

export interface CommandLine {
  /** The words of one simple command (split at `&&`, `||`, `;`, `|`), quotes removed. */
  words: string[];
  /** 1-based line in the markdown file. */
  line: number;
}

const SHELL = new Set(["sh", "bash", "shell", "console", "zsh"]);

/** Splits a shell line into simple commands and words (quotes honoured, `# comments` dropped). */
export function splitShell(text: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  let quote: string | null = null;
  const end = (): void => {
    if (word !== null) commands.at(-1)!.push(word);
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else word = (word ?? "") + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word = word ?? "";
    } else if (c === "#" && word === null) {
      break;
    } else if (/\s/.test(c)) {
      end();
    } else if (c === ";" || c === "|" || (c === "&" && text[i + 1] === "&")) {
      end();
      if (text[i + 1] === c) i++;
      commands.push([]);
    } else {
      word = (word ?? "") + c;
    }
  }
  end();
  return commands.filter((words) => words.length > 0);
}

/**
 * The command lines a markdown page shows: every line of its shell blocks (`$ ` prompts and `\` continuations
 * handled) and every inline code span of its prose.
 */
export function commandLines(markdown: string): CommandLine[] {
  const found: CommandLine[] = [];
  for (const block of codeBlocks(markdown).filter((b) => SHELL.has(b.language))) {
    const lines = block.code.split("\n");
    for (let i = 0; i < lines.length; i++) {
      let text = lines[i]!.replace(/^\s*\$\s+/, "");
      const start = i;
      while (text.endsWith("\\") && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!}`;
      for (const words of splitShell(text)) found.push({ words, line: block.line + start });
    }
  }
  const prose = withoutCodeBlocks(markdown).replace(/^ {0,3}(`{3,}|~{3,}).*$/gm, "");
  for (const span of prose.matchAll(/(`+)([^`]+?)\1/g)) {
    const line = prose.slice(0, span.index).split("\n").length;
    for (const words of splitShell(span[2]!)) found.push({ words, line });
  }
  return found;
}

/** The `--options` among words (`--name=value` as `--name`; a lone `--` and `-h`-style short options left out). */
export function longOptions(words: readonly string[]): string[] {
  return words.filter((w) => /^--[A-Za-z]/.test(w)).map((w) => w.split("=")[0]!);
}

/** The command a wrapper runs: `flock LOCK cmd`, `timeout 60 cmd`, `nice -n 5 cmd`, `time cmd`, `VAR=x cmd`, `env VAR=x cmd`. */
export function unwrap(words: readonly string[]): string[] {
  const rest = [...words];
  // flock's and timeout's options that take a value (`timeout -s KILL 60 cmd`).
  const valued = new Set(["-s", "--signal", "-k", "--kill-after", "-w", "--wait", "--timeout", "-E", "--conflict-exit-code"]);
  const skipOptions = (): void => {
    while (rest[0]?.startsWith("-")) {
      if (valued.has(rest.shift()!)) rest.shift();
    }
  };
  for (;;) {
    const head = rest[0];
    if (head === undefined) return rest;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(head)) rest.shift();
    else if (head === "time" || head === "sudo" || head === "exec" || head === "env") rest.shift();
    else if (head === "flock" || head === "timeout") {
      rest.shift();
      skipOptions();
      rest.shift(); // the lock file, or the duration
    } else if (head === "nice") {
      rest.shift();
      if (rest[0] === "-n") rest.splice(0, 2);
      else skipOptions();
    } else return rest;
  }
}
