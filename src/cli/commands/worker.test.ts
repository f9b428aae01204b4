import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeImage, rgbImage } from "../../../test/fixtures/images.js";
import { loadModel } from "../../alttext/index.js";
import { writeTinyModel } from "../../alttext/test-utils/tiny-model.js";
import { HAVE_REDIS, startRedis, type TestRedis } from "../../distributed/test-redis.js";
import { openDatabase } from "../../search/db/schema.js";
import { writeTinyEmbedding } from "../test-utils/tiny-embedding.js";
import { runCaption } from "./caption.js";
import { defaultIndexIo, runIndex } from "./index.js";

const child = resolve(fileURLToPath(import.meta.url), "../../test-utils/worker-child.ts");
if (!HAVE_REDIS)
  console.log("skipping queue worker tests: redis-server is not installed (apt-get install redis-server)");

interface Running {
  proc: ChildProcess;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(args: string[], delayMs: number): Running {
  const proc = spawn(process.execPath, ["--import", "tsx", child, ...args], {
    env: { ...process.env, WORKER_DELAY_MS: String(delayMs) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const running: Running = {
    proc,
    stderr: "",
    exited: new Promise((done) => proc.on("exit", (code, signal) => done({ code, signal }))),
  };
  proc.stderr!.on("data", (chunk) => {
    running.stderr += String(chunk);
  });
  return running;
}

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function rows(db: string) {
  const handle = openDatabase(db, { readonly: true });
  try {
    return handle
      .prepare(
        "SELECT images.path, caption, confidence, hash, vector, " +
          "(SELECT group_concat(encoder || ':' || hex(pooled) || ':' || hex(grid)) FROM features " +
          "WHERE image_id = images.id ORDER BY encoder) AS features FROM images " +
          "LEFT JOIN embeddings ON embeddings.image_id = images.id ORDER BY path",
      )
      .all() as {
      path: string;
      caption: string;
      confidence: number;
      hash: string;
      vector: Buffer | null;
      features: string;
    }[];
  } finally {
    handle.close();
  }
}

describe.skipIf(!HAVE_REDIS)("captionkit worker and index --redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("3 workers, one SIGKILLed mid-batch: every image indexed once, with a local index's captions", async () => {
    const work = await mkdtemp(join(tmpdir(), "captionkit-queue-"));
    const photos = join(work, "photos");
    await mkdir(photos);
    const count = 18;
    for (let i = 0; i < count; i++) {
      const image = rgbImage(24, 24, (x, y) => [
        (x * 10 + i * 13) % 256,
        (y * 9 + i * 29) % 256,
        (i * 47) % 256,
      ]);
      await writeFile(join(photos, `img${String(i).padStart(2, "0")}.png`), await encodeImage(image, "png"));
    }
    await writeFile(join(photos, "broken.png"), "not a png");
    const model = await writeTinyModel();
    const embeddingModel = await writeTinyEmbedding();
    const quiet = { ...defaultIndexIo, stdout: () => {}, stderr: () => {} };

    const local = join(work, "local.sqlite");
    await runIndex(photos, { db: local, model, embeddingModel, batch: 3 }, quiet);

    const queue = "test-kill";
    const args = [
      "--redis",
      redis.url,
      "--queue",
      queue,
      "--model",
      model,
      "--embedding-model",
      embeddingModel,
    ];
    const workers = [0, 1, 2].map(() =>
      startWorker([...args, "--stalled-ms", "4000", "--status-every", "0.5"], 400),
    );
    await until(() => workers.every((w) => w.stderr.includes("ready on queue")), "workers to start");

    const victim = workers[0]!;
    let killedMidBatch = false;
    const killer = until(() => (victim.stderr.match(/processing/g) ?? []).length >= 2, "a second batch").then(
      () => {
        killedMidBatch = true;
        victim.proc.kill("SIGKILL");
      },
    );
    const errors: string[] = [];
    const distributed = join(work, "queue.sqlite");
    const summary = await runIndex(
      photos,
      { db: distributed, model, embeddingModel, batch: 3, redis: redis.url, queue, inFlight: 8 },
      { ...quiet, stderr: (text) => errors.push(text) },
    );
    await killer;
    expect(killedMidBatch).toBe(true);
    expect((await victim.exited).signal).toBe("SIGKILL");
    expect(summary, errors.join("")).toMatchObject({ scanned: count + 1, added: count, failed: 1 });
    expect(errors.join("")).toMatch(/broken\.png/);

    const want = rows(local);
    const got = rows(distributed);
    expect(want).toHaveLength(count);
    for (const row of want) expect(row.features).toMatch(/^mobilenet_v2_mid:[0-9A-F]+:/);
    expect(new Set(got.map((r) => r.path)).size).toBe(got.length);
    expect(got).toEqual(want);

    // a second run finds nothing to do, and the queue holds no leftover results
    const again = await runIndex(
      photos,
      { db: distributed, model, embeddingModel, batch: 3, redis: redis.url, queue },
      quiet,
    );
    expect(again).toMatchObject({ added: 0, updated: 0, unchanged: count, failed: 1 });

    for (const w of workers.slice(1)) w.proc.kill("SIGTERM");
    for (const w of workers.slice(1)) {
      expect((await w.exited).code).toBe(0);
      expect(w.stderr).toMatch(/SIGTERM, finishing \d+ active jobs/);
      expect(w.stderr).toMatch(/\d+ jobs, \d+ images/);
    }
  }, 120_000);

  it("caption --redis writes the results file a local caption run writes", async () => {
    const work = await mkdtemp(join(tmpdir(), "captionkit-queue-caption-"));
    const photos = join(work, "photos");
    await mkdir(photos);
    for (let i = 0; i < 7; i++) {
      const image = rgbImage(20, 20, (x, y) => [
        (x * 12 + i * 31) % 256,
        (y * 7 + i * 17) % 256,
        (i * 53) % 256,
      ]);
      await writeFile(join(photos, `p${i}.png`), await encodeImage(image, "png"));
    }
    await writeFile(join(photos, "broken.png"), "not a png");
    const model = await writeTinyModel();
    const quiet = { loadCaptioner: loadModel, stdout: () => {}, stderr: () => {} };
    const local = join(work, "local.jsonl");
    await runCaption([photos], { out: local, model, beam: 2, alternatives: 1 }, quiet);

    const queue = "test-caption";
    const workers = [0, 1].map(() =>
      startWorker(["--redis", redis.url, "--queue", queue, "--model", model, "--status-every", "0"], 0),
    );
    await until(() => workers.every((w) => w.stderr.includes("ready on queue")), "workers to start");
    const queued = join(work, "queued.jsonl");
    const summary = await runCaption(
      [photos],
      { out: queued, model, beam: 2, alternatives: 1, redis: redis.url, queue, concurrency: 4 },
      { ...quiet, loadCaptioner: () => Promise.reject(new Error("--redis must not load a model")) },
    );
    expect(summary).toMatchObject({ total: 8, captioned: 7, failed: 1 });
    const records = async (file: string) =>
      (await readFile(file, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line))
        .sort((a, b) => a.image.localeCompare(b.image));
    const want = await records(local);
    expect(want.find((r) => r.image.endsWith("broken.png"))).toMatchObject({ code: "not_an_image" });
    expect(await records(queued)).toEqual(want);
    for (const w of workers) w.proc.kill("SIGTERM");
    for (const w of workers) expect((await w.exited).code).toBe(0);
  }, 120_000);
});
