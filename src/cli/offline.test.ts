import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { encodeImage, solidImage, writeFixture } from "../../test/fixtures/images.js";
import { writeTinyModel } from "../alttext/test-utils/tiny-model.js";
import { writeTinyEmbedding } from "./test-utils/tiny-embedding.js";

const repoRoot = resolve(fileURLToPath(import.meta.url), "../../..");
const bin = join(repoRoot, "bin", "captionkit.js");
const built = existsSync(join(repoRoot, "dist", "cli", "main.js"));
if (!built) console.log("skipping built-CLI offline tests: dist/ is missing (run npm run build)");

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs the built CLI; `until.onStart` runs once stderr matches `until.pattern` and stops the child. */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  until?: { pattern: RegExp; onStart: (match: RegExpMatchArray, stop: () => void) => Promise<void> },
): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let started = false;
  child.stdout.on("data", (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on("data", (chunk) => {
    stderr += String(chunk);
    const match = until && !started ? stderr.match(until.pattern) : null;
    if (match) {
      started = true;
      void until!.onStart(match, () => child.kill("SIGTERM")).catch(() => child.kill("SIGTERM"));
    }
  });
  return new Promise((done) =>
    child.on("exit", (code, signal) => done({ code, signal, stdout, stderr, pid: child.pid! })),
  );
}

/** Every file and folder below dir, relative to it. */
async function contents(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => relative(dir, join(dir, e))).sort();
}

describe.skipIf(!built)("the built CLI offline (onnxruntime telemetry off)", () => {
  it("captions photos given by more than 40 KB of paths on the command line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "captionkit-long-argv-"));
    const image = await writeFixture(
      dir,
      "red.png",
      await encodeImage(solidImage(16, 16, [200, 30, 30]), "png"),
    );
    // 48 links of ~900-byte paths: three nested folders of 250-character names each
    const deep = join(dir, "d".repeat(250), "e".repeat(250), "f".repeat(250));
    await mkdir(deep, { recursive: true });
    const paths: string[] = [];
    for (let i = 0; i < 48; i++) {
      const link = join(deep, `${String(i).padStart(3, "0")}-${"p".repeat(120)}.png`);
      await symlink(image, link);
      paths.push(link);
    }
    expect(paths.join(" ").length).toBeGreaterThan(40_000);
    const model = await writeTinyModel();
    const run = await runCli(["caption", ...paths, "--model", model, "--format", "jsonl", "--beam", "1"]);
    expect(run.signal, run.stderr).toBeNull(); // onnxruntime's telemetry died of SIGSEGV here
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toHaveLength(48);
  });

  it("writes nothing into an empty HOME and TMPDIR while captioning, indexing and serving", async () => {
    const home = await mkdtemp(join(tmpdir(), "captionkit-home-"));
    const tmp = await mkdtemp(join(tmpdir(), "captionkit-tmpdir-"));
    const env = { ...process.env, HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: undefined };
    const work = await mkdtemp(join(tmpdir(), "captionkit-offline-"));
    const photos = join(work, "photos");
    await mkdir(photos);
    const png = await encodeImage(solidImage(32, 24, [30, 60, 200]), "png");
    const image = await writeFixture(photos, "blue.png", png);
    const model = await writeTinyModel();
    const embedding = await writeTinyEmbedding();
    const pids: number[] = [];

    const caption = await runCli(["caption", image, "--model", model, "--beam", "1"], env);
    expect(caption.code, caption.stderr).toBe(0);
    pids.push(caption.pid);

    const db = join(work, "photos.sqlite");
    const index = await runCli(
      ["index", photos, "--db", db, "--model", model, "--embedding-model", embedding],
      env,
    );
    expect(index.code, index.stderr).toBe(0);
    expect(index.stdout).toMatch(/1 added/);
    pids.push(index.pid);

    let status = 0;
    const serve = await runCli(["serve", "--port", "0", "--model", model, "--log-level", "warn"], env, {
      pattern: /serving tiny-random at (http:\/\/127\.0\.0\.1:\d+)/,
      onStart: async (match, stop) => {
        const response = await fetch(`${match[1]}/v1/captions`, {
          method: "POST",
          body: png,
          headers: { "content-type": "image/png" },
        });
        status = response.status;
        await response.arrayBuffer();
        stop();
      },
    });
    expect(serve.code, serve.stderr).toBe(0);
    expect(status).toBe(200);
    pids.push(serve.pid);

    // onnxruntime's telemetry wrote ~/.cache/Microsoft/DeveloperTools/... and mat-debug-<pid>.log.
    // The one thing allowed in HOME is the documented cache of built decoder graphs.
    const inHome = await contents(home);
    expect(inHome.filter((p) => !/^\.cache(\/captionkit(\/onnx(\/.*)?)?)?$/.test(p))).toEqual([]);
    expect(inHome.some((p) => p.endsWith("step.onnx"))).toBe(true);
    expect(await contents(tmp)).toEqual([]);
    for (const pid of pids) expect(existsSync(`/tmp/mat-debug-${pid}.log`)).toBe(false);
  });
});

describe("onnxruntime-node has one loader", () => {
  it("no module under src/ but core/onnxruntime.ts imports its value (telemetry would stay on)", async () => {
    const src = resolve(repoRoot, "src");
    const files = (await readdir(src, { recursive: true })).filter((f) => /\.[cm]?[jt]s$/.test(f));
    // a value import or require: `import x from`, `import * as`, `import {`, `import "…"`, `import(…)`
    const valueImport =
      /(?:^|[\s;])import\s+(?!type\b)[^;]*?from\s*["']onnxruntime-node["']|import\s*\(\s*["']onnxruntime-node["']|import\s+["']onnxruntime-node["']|require\s*\(\s*["']onnxruntime-node["']/m;
    const offenders: string[] = [];
    for (const file of files) {
      if (file === join("core", "onnxruntime.ts")) continue;
      if (valueImport.test(await readFile(join(src, file), "utf8"))) offenders.push(file);
    }
    expect(offenders).toEqual([]);
    // the pattern does catch what it must, and lets type-only imports through
    const pkg = `"onnxruntime-${"node"}"`; // spelled so that this file does not match itself
    expect(valueImport.test(`import * as ort from ${pkg};`)).toBe(true);
    expect(valueImport.test(`const ort = await import(${pkg});`)).toBe(true);
    expect(valueImport.test(`import type * as ort from ${pkg};`)).toBe(false);
  });
});
