import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError, UsageError, describeSystemError, userFacing, type SystemError } from "./errors.js";

function systemError(code: string, syscall: string, path: string): SystemError {
  return Object.assign(new Error(`${code}: something, ${syscall} '${path}'`), { code, syscall, path });
}

describe("describeSystemError", () => {
  const dir = mkdtempSync(join(tmpdir(), "errors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "a-file");
  writeFileSync(file, "x");

  it("says what could not be done to which path, and why, in words", () => {
    expect(describeSystemError(systemError("ENOENT", "open", join(dir, "missing")))).toBe(`cannot open ${join(dir, "missing")}: no such file or folder`);
    expect(describeSystemError(systemError("ENOTDIR", "mkdir", join(file, "sub")))).toBe(`cannot create the folder ${join(file, "sub")}: ${file} is a file, not a folder`);
    expect(describeSystemError(systemError("EEXIST", "mkdir", file))).toBe(`cannot create the folder ${file}: it is a file, not a folder`);
    expect(describeSystemError(systemError("EISDIR", "read", dir))).toBe(`cannot read ${dir}: it is a folder, not a file`);
    expect(describeSystemError(systemError("EACCES", "open", "/root/x"))).toBe("cannot open /root/x: permission denied");
    expect(describeSystemError(systemError("EROFS", "mkdir", "/sys/x"))).toBe("cannot create the folder /sys/x: the file system is read-only");
    expect(describeSystemError(systemError("ENOSPC", "write", "/x/y"))).toBe("cannot write /x/y: no space left on the device");
  });

  it("names the file an atomic write was for, not its temporary sibling", () => {
    const cause = systemError("ENOENT", "open", join(dir, "gone", "metrics.json.tmp-123-abcdef"));
    const wrapped = new Error(`cannot write ${join(dir, "gone", "metrics.json")}: whatever`, { cause });
    expect(userFacing(wrapped, () => false)).toEqual({ code: 1, message: `cannot write ${join(dir, "gone", "metrics.json")}: the folder ${join(dir, "gone")} does not exist` });
  });
});

describe("userFacing", () => {
  it("maps usage mistakes to exit 2, input and file problems to 1, and leaves bugs to the stack trace", () => {
    expect(userFacing(new UsageError("bad flag"), () => false)).toEqual({ code: 2, message: "bad flag" });
    expect(userFacing(new InputError("bad file"), () => false)).toEqual({ code: 1, message: "bad file" });
    expect(userFacing(new TypeError("x is undefined"), () => false)).toBeUndefined();
  });
});
