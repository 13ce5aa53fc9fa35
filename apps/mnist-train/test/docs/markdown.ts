import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const REPOSITORY_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** Folders that hold no documentation of ours: installed, generated or run outputs. */
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", "coverage", "runs"]);

/** Every markdown file of the repository, as paths relative to its root, sorted. */
export function markdownFiles(root: string = REPOSITORY_ROOT): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIPPED_FOLDERS.has(entry.name)) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.toLowerCase().endsWith(".md")) found.push(relative(root, path));
    }
  };
  walk(root);
  return found.sort();
}

export interface CodeBlock {
  /** The first word of the fence's info string, lower-cased ("" when there is none). */
  language: string;
  code: string;
  /** 1-based line in the markdown file of the block's first code line. */
  line: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;

/** The fenced code blocks of a markdown text, in order (CommonMark fences: ``` or ~~~, closed by a longer-or-equal run). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close !== null && close[1]![0] === fence[0] && close[1]!.length >= fence.length) break;
      body.push(lines[j]!);
    }
    blocks.push({ language: open[2]!.toLowerCase(), code: body.join("\n"), line: i + 2 });
    i = j;
  }
  return blocks;
}

/** The text with the contents of fenced blocks blanked out, line structure kept. */
export function withoutCodeBlocks(markdown: string): string {
  const lines = markdown.split("\n");
  for (const block of codeBlocks(markdown)) {
    const count = block.code === "" ? 0 : block.code.split("\n").length;
    for (let k = 0; k < count; k++) lines[block.line - 1 + k] = "";
  }
  return lines.join("\n");
}

/** The text with fenced blocks and inline code spans blanked out (line structure kept), so that code is not read as prose. */
export function proseOnly(markdown: string): string {
  return withoutCodeBlocks(markdown).replace(/(`+)[^`]*?\1/g, (span) => " ".repeat(span.length));
}

export interface Link {
  target: string;
  line: number;
}

/** Inline links and images `[text](target "title")`, `<a href>` / `<img src>`, and reference definitions `[x]: target`. */
export function links(markdown: string): Link[] {
  const prose = proseOnly(markdown);
  const found: Link[] = [];
  const lineOf = (index: number): number => prose.slice(0, index).split("\n").length;
  const patterns = [/\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g, /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm, /\b(?:href|src)\s*=\s*["']([^"']+)["']/g];
  for (const pattern of patterns) {
    for (const match of prose.matchAll(pattern)) found.push({ target: match[1]!, line: lineOf(match.index) });
  }
  return found.sort((a, b) => a.line - b.line);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, ... */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown).split("\n")) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const text = heading[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "").replace(/`/g, "");
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

export const readText = (path: string): string => readFileSync(path, "utf8");
