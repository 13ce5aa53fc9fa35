import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";
import { getGradient, registerGradient } from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";

/** The kernels on the reference network's backward path (tfjs names). */
export const NETWORK_GRADIENT_KERNELS = [
  "Add",
  "BatchMatMul",
  "Cast",
  "Conv2D",
  "Exp",
  "Log",
  "MaxPool",
  "Multiply",
  "Neg",
  "RealDiv",
  "Relu",
  "Reshape",
  "Sub",
  "Sum",
  "Transpose",
] as const;

/**
 * tfjs-core's Node build (`tf-core.node.js`) registers no gradients: they live in the package's ESM
 * sources (`dist/gradients/*_grad.js`), which Node cannot load as they are (extension-less relative
 * imports in a CommonJS package; `@tensorflow/tfjs` bundles them in). This loads TensorFlow.js's own
 * gradient definitions for the given kernels, unchanged, through `vm.SourceTextModule` (run Node
 * with `--experimental-vm-modules`), and registers them. Their ops dispatch through the global
 * tfjs engine, so they run on whichever backend is active.
 */
export async function registerTfjsGradients(kernels: readonly string[] = NETWORK_GRADIENT_KERNELS): Promise<void> {
  const missing = kernels.filter((k) => getGradient(k) === undefined);
  if (missing.length === 0) return;
  if (typeof vm.SourceTextModule !== "function") {
    throw new Error("registerTfjsGradients: run Node with --experimental-vm-modules (vm.SourceTextModule is unavailable)");
  }
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@tensorflow/tfjs-core"));
  const modules = new Map<string, vm.SourceTextModule>();
  const load = (file: string): vm.SourceTextModule => {
    let module = modules.get(file);
    if (module === undefined) {
      module = new vm.SourceTextModule(readFileSync(file, "utf8"), { identifier: file });
      modules.set(file, module);
    }
    return module;
  };
  const link = async (specifier: string, referencing: vm.Module): Promise<vm.Module> => {
    if (specifier.startsWith(".")) {
      const base = resolve(dirname(referencing.identifier), specifier);
      const file = [base, `${base}.js`, `${base}/index.js`].find((f) => existsSync(f) && f.endsWith(".js"));
      if (file === undefined) throw new Error(`registerTfjsGradients: cannot resolve ${specifier} from ${referencing.identifier}`);
      return load(file);
    }
    const namespace = (await import(pathToFileURL(createRequire(referencing.identifier).resolve(specifier)).href)) as Record<string, unknown>;
    const names = Object.keys(namespace);
    return new vm.SyntheticModule(
      names,
      function (this: vm.SyntheticModule) {
        for (const name of names) this.setExport(name, namespace[name]);
      },
      { identifier: `external:${specifier}` },
    );
  };
  for (const kernel of missing) {
    const file = resolve(dist, "gradients", `${kernel}_grad.js`);
    if (!existsSync(file)) throw new Error(`registerTfjsGradients: tfjs-core has no gradient file for ${kernel} (${file})`);
    const module = load(file);
    await module.link(link);
    await module.evaluate();
    const config = Object.values(module.namespace as Record<string, unknown>).find(
      (v): v is GradConfig => typeof v === "object" && v !== null && (v as GradConfig).kernelName === kernel,
    );
    if (config === undefined) throw new Error(`registerTfjsGradients: ${file} exports no gradient config for ${kernel}`);
    registerGradient(config);
  }
}
