import { posix } from "node:path";
import { gunzipSync } from "node:zlib";

/** The fields of a packed package.json that the checks read. */
export interface Manifest {
  name: string;
  version: string;
  types?: string;
  exports?: Record<string, Record<string, string> | string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The files of an npm tarball (.tgz, ustar), keyed by their path without the leading `package/`. */
export function untar(tgz: Uint8Array): Map<string, Buffer> {
  const tar = gunzipSync(tgz);
  const files = new Map<string, Buffer>();
  const text = (start: number, length: number): string => tar.toString("utf8", start, start + length).replace(/\0.*$/s, "");
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = text(offset, 100);
    if (name === "") break;
    const size = Number.parseInt(text(offset + 124, 12).trim() || "0", 8);
    const prefix = text(offset + 345, 155);
    const path = (prefix === "" ? name : `${prefix}/${name}`).replace(/^package\//, "");
    const type = tar[offset + 156];
    if (type === 0x30 || type === 0) files.set(path, tar.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Every file an `exports` map points at, labelled with its subpath and condition. */
export function exportTargets(manifest: Manifest): [where: string, path: string][] {
  return Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]): [string, string][] =>
    typeof target === "string" ? [[subpath, target]] : Object.entries(target).map(([condition, path]): [string, string] => [`${subpath} (${condition})`, path]),
  );
}

/** `./dist/index.js` -> `dist/index.js`, the key of the file in `untar`'s map. */
export const inPackage = (path: string): string => posix.normalize(path).replace(/^\.\//, "");
