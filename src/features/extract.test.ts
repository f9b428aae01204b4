import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEncoder } from "../encoders/registry.js";
import { preprocessImage } from "../image/index.js";
import { viewAugment } from "./chunk.js";
import { ConcatFeatureReader } from "./concat-reader.js";
import { extractFeatures } from "./extract.js";
import { chunkIndexFile } from "./format.js";
import { openFeatureStore } from "./reader.js";
import { featureFixture } from "./test-utils/fixtures.js";

let root: string;
let fixture: Awaited<ReturnType<typeof featureFixture>>;
const dataset = { source: "synthetic", split: "all" };

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "captionkit-features-"));
  fixture = await featureFixture(path.join(root, "data"), 7, { corrupt: true });
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort())
    out[name] = (await readFile(path.join(dir, name))).toString("base64");
  return out;
}

function run(out: string, extra: Partial<Parameters<typeof extractFeatures>[0]> = {}) {
  return extractFeatures({
    images: fixture.images,
    encoder: fixture.encoder,
    out,
    dataset,
    chunkSize: 3,
    batch: 2,
    workers: 0,
    ...extra,
  });
}

describe("extractFeatures", () => {
  let reference: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    reference = await run(path.join(root, "reference"), { augment: 2, dtype: "float32" });
  });

  it("stores every readable image and records the unreadable one", async () => {
    expect(path.basename(reference.dir)).toBe("onnx-encoder-8px-all-float32-aug2");
    expect(reference.stored).toBe(7);
    expect(reference.errors.map((e) => e.id)).toEqual(["broken.jpg"]);
    const store = openFeatureStore(reference.dir);
    expect(store.ids).toEqual(fixture.images.map((i) => i.id).filter((id) => id !== "broken.jpg"));
    expect(store.viewsOf("img0.png")).toBe(3);
    expect(() => store.read("broken.jpg")).toThrow(/not in the feature store/);
    store.close();
  });

  it("stores exactly what the encoder computes for each view", async () => {
    const encoder = await createEncoder(fixture.encoder);
    const store = openFeatureStore(reference.dir, { maxOpenChunks: 1 });
    try {
      for (const img of [fixture.images[0]!, fixture.images[5]!]) {
        for (const view of [0, 2]) {
          const x = await preprocessImage(img.path, {
            size: encoder.inputSize,
            normalization: encoder.normalization,
            augment: viewAugment(store.manifest, img.id, view),
          });
          const want = await encoder.encode(x, 1);
          const got = store.read(img.id, view);
          expect(Array.from(got.grid)).toEqual(Array.from(want.grid));
          expect(Array.from(got.pooled)).toEqual(Array.from(want.pooled));
          expect(Array.from(store.readPooled(img.id, view))).toEqual(Array.from(want.pooled));
        }
      }
      // augmented views are different pictures
      expect(store.read("img3.png", 1).pooled).not.toEqual(store.read("img3.png", 0).pooled);
    } finally {
      store.close();
      encoder.dispose();
    }
  });

  it("is byte-identical in 0 or 2 worker threads, and float16 stays close to float32", async () => {
    // reference ran on the calling thread; worker threads must give the same bytes
    const two = await run(path.join(root, "two-workers"), { augment: 2, dtype: "float32", workers: 2 });
    expect(await snapshot(two.dir)).toEqual(await snapshot(reference.dir));
    const half = await run(path.join(root, "half"), { augment: 2, dtype: "float16" });
    const [a, b] = [openFeatureStore(half.dir), openFeatureStore(reference.dir)];
    const [x, y] = [a.read("img4.png", 1).grid, b.read("img4.png", 1).grid];
    x.forEach((v, i) => {
      expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(Math.abs(y[i]!) * 1e-3 + 1e-4);
    });
    a.close();
    b.close();
  });

  it("resumes after an abort into the same bytes, ignoring half-written chunks", async () => {
    const out = path.join(root, "aborted");
    const controller = new AbortController();
    const first = run(out, {
      augment: 2,
      dtype: "float32",
      onProgress: (done) => {
        // chunk 0 (3 images) is committed before chunk 1 reports progress
        if (done >= 4) controller.abort();
      },
      signal: controller.signal,
    });
    await expect(first).rejects.toThrow(/aborted/);
    const dir = path.join(out, path.basename(reference.dir));
    expect(existsSync(path.join(dir, "index.json"))).toBe(false);
    expect(() => openFeatureStore(dir)).toThrow(/not complete/);
    // what a crash mid-write leaves: a chunk .bin without its .json, and a temp file
    await writeFile(path.join(dir, "chunk-00002.bin"), Buffer.from("half a chunk"));
    await writeFile(path.join(dir, "chunk-00001.json.tmp-deadbeef"), "{");
    const partial = openFeatureStore(dir, { allowPartial: true });
    expect(partial.complete).toBe(false);
    expect(partial.ids.every((id) => reference.manifest.ids.includes(id))).toBe(true);
    partial.close();
    const resumed = await run(out, { augment: 2, dtype: "float32" });
    expect(resumed.resumed).toBeGreaterThan(0);
    expect(await snapshot(resumed.dir)).toEqual(await snapshot(reference.dir));
  });

  it("stops worker threads gracefully on abort: the chunks in progress are committed, then resumed", async () => {
    const out = path.join(root, "aborted-workers");
    const controller = new AbortController();
    let atAbort = 0;
    const first = run(out, {
      augment: 2,
      dtype: "float32",
      workers: 2,
      onProgress: (done) => {
        if (done >= 1 && atAbort === 0) {
          atAbort = done;
          controller.abort();
        }
      },
      signal: controller.signal,
    });
    await expect(first).rejects.toThrow(/aborted/);
    const dir = path.join(out, path.basename(reference.dir));
    const partial = openFeatureStore(dir, { allowPartial: true });
    // the chunks running at the abort were finished and committed, not cut off
    expect(partial.ids.length).toBeGreaterThan(atAbort - 1);
    expect(partial.ids.length).toBeLessThan(reference.manifest.ids.length);
    partial.close();
    const resumed = await run(out, { augment: 2, dtype: "float32", workers: 2 });
    expect(resumed.resumed).toBeGreaterThan(0);
    expect(await snapshot(resumed.dir)).toEqual(await snapshot(reference.dir));
  });

  it("resumes after the process is killed (SIGKILL) into the same bytes", async () => {
    const out = path.join(root, "killed");
    const script = path.join(root, "extract-child.mts");
    const here = path.dirname(new URL(import.meta.url).pathname);
    await writeFile(
      script,
      `import { extractFeatures } from ${JSON.stringify(path.join(here, "extract.ts"))};
const images = ${JSON.stringify(fixture.images)};
await extractFeatures({ images, encoder: ${JSON.stringify(fixture.encoder)}, out: ${JSON.stringify(out)},
  dataset: ${JSON.stringify(dataset)}, chunkSize: 3, batch: 2, workers: 0, augment: 2, dtype: "float32",
  onProgress: (done) => { if (done >= 3) setInterval(() => {}, 1000); } });
`,
    );
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(process.execPath, ["--import", new URL(`file://${tsx}`).href, script], {
      stdio: "ignore",
    });
    const dir = path.join(out, path.basename(reference.dir));
    const deadline = Date.now() + 60_000;
    while (!existsSync(path.join(dir, chunkIndexFile(0))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(existsSync(path.join(dir, chunkIndexFile(0)))).toBe(true);
    expect(existsSync(path.join(dir, "index.json"))).toBe(false);
    const resumed = await run(out, { augment: 2, dtype: "float32" });
    expect(resumed.resumed).toBeGreaterThan(0);
    expect(await snapshot(resumed.dir)).toEqual(await snapshot(reference.dir));
  });

  it("reads two stores as one concatenated store", async () => {
    const a = openFeatureStore(reference.dir);
    const b = openFeatureStore(reference.dir);
    const both = new ConcatFeatureReader([a, b]);
    expect(both.gridShape).toEqual([4, 4, 8]);
    expect(both.pooledSize).toBe(8);
    expect(both.ids).toEqual(a.ids);
    const one = a.read("img2.png", 1);
    const two = both.read("img2.png", 1);
    expect(Array.from(two.grid.subarray(8 * 5, 8 * 5 + 4))).toEqual(
      Array.from(one.grid.subarray(4 * 5, 4 * 5 + 4)),
    );
    expect(Array.from(two.grid.subarray(8 * 5 + 4, 8 * 6))).toEqual(
      Array.from(one.grid.subarray(4 * 5, 4 * 6)),
    );
    expect(Array.from(two.pooled.subarray(4))).toEqual(Array.from(one.pooled));
    both.close();
  });

  it("refuses to resume a store made with other settings", async () => {
    const out = path.join(root, "reference");
    await expect(run(out, { augment: 2, dtype: "float32", batch: 3 })).rejects.toThrow(
      /different settings \(batch\)/,
    );
  });

  it("makes the same store with either runtime of a built-in encoder, and resumes across them", async () => {
    const images = fixture.images.filter((i) => i.id !== "broken.jpg").slice(0, 3);
    const opts = { images, encoder: "centernet_224", dataset, chunkSize: 2, batch: 2, workers: 0 };
    const onnx = await extractFeatures({ ...opts, runtime: "onnx", out: path.join(root, "rt-onnx") });
    const tfjs = await extractFeatures({ ...opts, runtime: "tfjs", out: path.join(root, "rt-tfjs") });
    expect(path.basename(onnx.dir)).toBe("centernet_224-224px-all-float16");
    expect(path.basename(tfjs.dir)).toBe(path.basename(onnx.dir));
    expect(tfjs.manifest).toEqual(onnx.manifest);
    const [a, b] = [openFeatureStore(onnx.dir), openFeatureStore(tfjs.dir)];
    for (const id of a.ids) {
      const [x, y] = [a.read(id).grid, b.read(id).grid];
      const scale = Math.max(...Array.from(y, Math.abs));
      x.forEach((v, i) => {
        // float16 storage rounds to ~1e-3 relative; the runtimes differ far less
        expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(Math.abs(y[i]!) * 2e-3 + scale * 1e-3);
      });
    }
    a.close();
    b.close();
    const resumed = await extractFeatures({ ...opts, runtime: "tfjs", out: path.join(root, "rt-onnx") });
    expect(resumed.resumed).toBe(3);
  });
});
