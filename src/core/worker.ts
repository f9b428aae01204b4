import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * Starts a worker thread on `entry` (a URL of the entry's .js file, next to the caller): the .js when
 * running compiled (dist/), else the .ts source. A worker inherits neither vitest's nor tsx's loader
 * (and `--import` in a worker's execArgv is ignored by Node 20), so for .ts a small bootstrap imports
 * the entry through tsImport from tsx's ESM API (dist/esm/api/index.mjs beside its main entry): plain
 * register() did not take effect inside a worker.
 */
export function startModuleWorker(entry: URL, workerData: unknown): Worker {
  if (existsSync(fileURLToPath(entry))) return new Worker(entry, { workerData });
  const ts = entry.href.replace(/\.js$/, ".ts");
  const tsxDist = path.dirname(createRequire(import.meta.url).resolve("tsx"));
  const tsxApi = pathToFileURL(path.join(tsxDist, "esm", "api", "index.mjs")).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}));`;
  return new Worker(bootstrap, { eval: true, workerData });
}
