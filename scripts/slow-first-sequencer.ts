import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that spend most of their time in child processes (the built CLI, a browser, tsc, pnpm) or in one
 * long computation. Started first, they overlap with the many short files on the other worker instead of
 * running alone at the end. Vitest orders by the durations it cached on an earlier run, which a fresh
 * clone (CI) does not have; it then orders by file size.
 */
const SLOW = /\.e2e\.test\.ts$|\/standalone-packages\.test\.ts$|\/docs\/(readme-blocks|documented-commands)\.test\.ts$|\/wasm-binaries\.test\.ts$/;

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const slow = (file: TestSpecification): boolean => SLOW.test(file.moduleId);
    return [...sorted.filter(slow), ...sorted.filter((file) => !slow(file))];
  }
}
