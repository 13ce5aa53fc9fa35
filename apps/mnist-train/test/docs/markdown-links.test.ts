// Every relative link in every markdown file of the repository resolves to a file or folder inside the
// repository (a link to ../shared/ once pointed at a folder that only existed on one machine), and every
// #anchor names a heading of its target.
import { existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { headingAnchors, links, markdownFiles, readText, REPOSITORY_ROOT } from "./markdown.js";

/** Why a link written in `file` (relative to the root) does not resolve, or null when it does. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return null; // https:, mailto:, ...
  const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
  const path = decodeURIComponent(pathPart);
  const absolute = path === "" ? join(REPOSITORY_ROOT, file) : path.startsWith("/") ? join(REPOSITORY_ROOT, path) : resolve(REPOSITORY_ROOT, dirname(file), path);
  const inside = relative(REPOSITORY_ROOT, absolute);
  if (inside.startsWith(`..${sep}`) || inside === "..") return `${target} leaves the repository (${absolute})`;
  if (!existsSync(absolute)) return `${target}: no such file or folder ${inside}`;
  if (anchor !== undefined && anchor !== "" && statSync(absolute).isFile() && absolute.endsWith(".md")) {
    if (!headingAnchors(readText(absolute)).has(anchor.toLowerCase())) return `${target}: ${inside} has no heading with the anchor #${anchor}`;
  }
  return null;
}

describe("links in markdown", () => {
  it("finds the markdown files, the root README's links among them", () => {
    const files = markdownFiles();
    expect(files).toContain("README.md");
    expect(files).toContain("docs/design.md");
    expect(links(readText(join(REPOSITORY_ROOT, "README.md"))).map((l) => l.target)).toContain("docs/design.md#the-reference-network");
  });

  it("tells a broken link from a good one", () => {
    expect(brokenLink("README.md", "docs/design.md")).toBeNull();
    expect(brokenLink("README.md", "docs/design.md#the-reference-network")).toBeNull();
    expect(brokenLink("packages/core/README.md", "../nn")).toBeNull();
    expect(brokenLink("README.md", "https://github.com/maxwellzh/Pico")).toBeNull();
    expect(brokenLink("README.md", "docs/no-such-page.md")).toMatch(/no such file or folder docs\/no-such-page.md/);
    expect(brokenLink("README.md", "../shared/DESIGN.md")).toMatch(/leaves the repository/);
    expect(brokenLink("README.md", "docs/design.md#no-such-heading")).toMatch(/has no heading with the anchor #no-such-heading/);
  });

  for (const file of markdownFiles()) {
    it(`${file}: every relative link resolves inside the repository`, () => {
      const broken = links(readText(join(REPOSITORY_ROOT, file)))
        .map(({ target, line }) => {
          const why = brokenLink(file, target);
          return why === null ? null : `${file}:${line}: ${why}`;
        })
        .filter((why) => why !== null);
      expect(broken).toEqual([]);
    });
  }
});
