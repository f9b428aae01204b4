/**
 * Load test of `captionkit serve`: autocannon, 16 concurrent clients, 30 s, on 127.0.0.1 only, with
 * micro-batching on (max batch 8) and off (max batch 1). The server runs in a child process so that the
 * model's CPU work does not stall the load generator's event loop.
 *
 *   npx tsx bench/serve-load.ts [--model DIR] [--image FILE] [--duration 30] [--connections 16]
 *   npx tsx bench/serve-load.ts --simulate 40,10   # no model: a CPU-bound stand-in, 40 ms per call + 10 ms per image
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { loadModel } from "../src/alttext/index.js";
import type { Captioner, CaptionResult } from "../src/generation/types.js";
import { buildServer } from "../src/serve/index.js";

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method: "POST";
  headers: Record<string, string>;
  body: Buffer;
  timeout: number;
}
interface AutocannonInstance {
  on(
    event: "response",
    listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void,
  ): void;
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (
  options: AutocannonOptions,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    image: { type: "string" },
    duration: { type: "string", default: "30" },
    connections: { type: "string", default: "16" },
    simulate: { type: "string" },
    "serve-child": { type: "boolean", default: false },
    "max-batch": { type: "string", default: "8" },
  },
});

/** Busy-waits, because a real model call occupies the CPU (and the event loop) rather than sleeping. */
function simulatedCaptioner(perCallMs: number, perImageMs: number): Captioner {
  return {
    modelName: `simulated-${perCallMs}+${perImageMs}ms`,
    async caption(images) {
      const until = performance.now() + perCallMs + perImageMs * images.length;
      while (performance.now() < until) {
        // spin
      }
      return images.map(
        (): CaptionResult => ({
          caption: "A simulated caption.",
          confidence: 0.5,
          alternatives: [],
          tokens: ["a"],
        }),
      );
    },
    dispose() {},
  };
}

async function serveChild(): Promise<void> {
  const captioner = args.simulate
    ? simulatedCaptioner(...(args.simulate.split(",").map(Number) as [number, number]))
    : await loadModel(args.model);
  const app = await buildServer({
    captioner,
    maxBatch: Number(args["max-batch"]),
    maxWaitMs: 10,
    maxQueue: 64,
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  process.stdout.write(`${JSON.stringify({ address, model: captioner.modelName })}\n`);
}

function startServer(maxBatch: number): Promise<{ child: ChildProcess; address: string; model: string }> {
  const script = fileURLToPath(import.meta.url);
  const childArgs = [...process.execArgv, script, "--serve-child", "--max-batch", String(maxBatch)];
  if (args.model) childArgs.push("--model", args.model);
  if (args.simulate) childArgs.push("--simulate", args.simulate);
  const child = spawn(process.execPath, childArgs, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout!.on("data", (chunk) => {
      buffered += String(chunk);
      const newline = buffered.indexOf("\n");
      if (newline >= 0)
        resolve({ child, ...(JSON.parse(buffered.slice(0, newline)) as { address: string; model: string }) });
    });
    child.on("exit", (code) => reject(new Error(`server exited with code ${code}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function testImage(): Promise<Buffer> {
  if (args.image) return readFile(args.image);
  // A 500x375 JPEG (Flickr8k's typical size) with structure, generated so the bench needs no data set.
  const width = 500;
  const height = 375;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = ((x ^ y) & 0xff) / 2;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function runLoad(maxBatch: number, image: Buffer) {
  const server = await startServer(maxBatch);
  try {
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    const duration = Number(args.duration);
    const result = await new Promise<AutocannonResult>((resolve, reject) => {
      const instance = autocannon(
        {
          url: `${server.address}/v1/captions`,
          connections: Number(args.connections),
          duration,
          method: "POST",
          headers: { "content-type": "image/jpeg" },
          body: image,
          timeout: 60,
        },
        (error, res) => (error ? reject(error) : resolve(res)),
      );
      instance.on("response", (_client, status, _bytes, ms) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    });
    latencies.sort((a, b) => a - b);
    // Mean images per model call, from the server's own histogram.
    const metrics = await (await fetch(`${server.address}/metrics`)).text();
    const metric = (name: string) =>
      Number(metrics.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1] ?? Number.NaN);
    const meanBatch = metric("captionkit_batch_size_sum") / metric("captionkit_batch_size_count");
    const ok = latencies.length;
    const non2xx = [...statuses].filter(([s]) => s < 200 || s >= 300);
    return {
      model: server.model,
      maxBatch,
      ok,
      imagesPerSecond: ok / result.duration,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      non2xx: Object.fromEntries(non2xx),
      errors: result.errors,
      timeouts: result.timeouts,
      meanBatch,
    };
  } finally {
    server.child.kill("SIGTERM");
  }
}

async function main(): Promise<void> {
  if (args["serve-child"]) return serveChild();
  const image = await testImage();
  console.log(
    `image: ${image.length} bytes; ${args.connections} connections for ${args.duration} s per run on 127.0.0.1`,
  );
  console.log(
    "| model | micro-batching | images/s | p50 ms | p95 ms | 2xx | non-2xx | socket errors | mean batch |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const maxBatch of [8, 1]) {
    const r = await runLoad(maxBatch, image);
    const non2xx =
      Object.entries(r.non2xx)
        .map(([s, n]) => `${n} x ${s}`)
        .join(", ") || "0";
    console.log(
      `| ${r.model} | ${maxBatch > 1 ? `on (max ${maxBatch}, 10 ms)` : "off"} | ${r.imagesPerSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.ok} | ${non2xx} | ${r.errors + r.timeouts} | ${r.meanBatch.toFixed(1)} |`,
    );
  }
}

await main();
