import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "./main.js";

const repoRoot = resolve(fileURLToPath(import.meta.url), "../../..");
const bin = join(repoRoot, "bin", "captionkit.js");
const built = existsSync(join(repoRoot, "dist", "cli", "main.js"));
if (!built) console.log("skipping the start-up tests: dist/ is missing (run npm run build)");

/** Packages that cost start-up time (native add-ons, wasm, large graphs): loaded only inside an action. */
const HEAVY = /\/node_modules\/(@tensorflow\/|onnxruntime-node\/|onnxruntime-common\/|sharp\/|@img\/sharp-)/;

// A preload (--import) that records every module the process loads, whichever way: the resolve hook
// sees ESM imports (it runs in the loader thread, so it appends to a file), and at exit the CommonJS
// cache lists what require() loaded, which Node 20 does not pass through the hooks.
const HOOKS = `import { appendFileSync } from "node:fs";
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, result.url + "\\n");
  return result;
}
`;
const PRELOAD = `import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
const file = process.env.CAPTIONKIT_MODULE_LOG;
register(new URL("./hooks.mjs", import.meta.url), { data: { file } });
process.on("exit", () => {
  const required = Object.keys(createRequire(import.meta.url).cache);
  appendFileSync(file, required.map((path) => "file://" + path + "\\n").join(""));
});
`;

let preload: string;
let logDir: string;

beforeAll(async () => {
  logDir = await mkdtemp(join(tmpdir(), "captionkit-startup-"));
  await writeFile(join(logDir, "hooks.mjs"), HOOKS);
  await writeFile(join(logDir, "preload.mjs"), PRELOAD);
  preload = pathToFileURL(join(logDir, "preload.mjs")).href;
});

interface Loaded {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Absolute file paths of every module loaded. */
  modules: string[];
}

let runs = 0;
/** Runs node with the recording preload; `args` follow node's own (a script and its arguments). */
function runRecorded(args: string[]): Promise<Loaded> {
  const log = join(logDir, `modules-${runs++}.txt`);
  const child = spawn(process.execPath, ["--import", preload, ...args], {
    cwd: repoRoot,
    env: { ...process.env, CAPTIONKIT_MODULE_LOG: log },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((done, fail) =>
    child.on("exit", async (code) => {
      try {
        const text = await readFile(log, "utf8");
        const modules = text
          .split("\n")
          .filter((line) => line.startsWith("file://"))
          .map((url) => fileURLToPath(url));
        done({ code, stdout, stderr, modules });
      } catch (error) {
        fail(error);
      }
    }),
  );
}

const heavyIn = (run: Loaded) => [...new Set(run.modules.filter((m) => HEAVY.test(m)))];

describe.skipIf(!built)("the built CLI starts without its heavy libraries", () => {
  it("the recorder sees sharp and tfjs when a module loads them (control)", async () => {
    const decode = pathToFileURL(join(repoRoot, "dist", "image", "decode.js")).href;
    const backend = pathToFileURL(join(repoRoot, "dist", "tfjs", "backend.js")).href;
    const run = await runRecorded([
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(decode)}); await import(${JSON.stringify(backend)});`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const heavy = heavyIn(run).join("\n");
    expect(heavy).toMatch(/node_modules\/sharp\//);
    expect(heavy).toMatch(/node_modules\/@tensorflow\/tfjs\//);
  });

  it("`captionkit --help` loads none of tfjs, onnxruntime, sharp", async () => {
    const run = await runRecorded([bin, "--help"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Usage: captionkit/);
    // the recorder saw the CLI itself (commander via import, so the log is not vacuously empty)
    expect(run.modules.some((m) => m.includes("/node_modules/commander/"))).toBe(true);
    expect(heavyIn(run)).toEqual([]);
  });

  it("`captionkit <command> --help` loads none of them, for every command", async () => {
    const names = buildProgram().commands.map((command) => command.name());
    expect(names).toContain("caption");
    for (const name of names) {
      const run = await runRecorded([bin, name, "--help"]);
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      expect(run.stdout, name).toMatch(new RegExp(`Usage: captionkit ${name}`));
      expect(heavyIn(run), name).toEqual([]);
    }
  });
});
