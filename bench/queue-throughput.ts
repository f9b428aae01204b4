/**
 * Images per second of `captionkit index --redis` with 1..N `captionkit worker`s on this machine, and of
 * a local `captionkit index` of the same photos, with the shipped models.
 *
 *   npx tsx bench/queue-throughput.ts [--images 96] [--workers 1,2] [--batch 16] [--flickr8k DIR]
 *
 * The photos are the first N of Flickr8k's val split (../shared), else generated ones. Each run starts
 * a throwaway redis-server (Debian's) on a free loopback port; workers are started and loaded before
 * the clock starts, so the figure is steady-state throughput, not model loading.
 */
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { defaultIndexIo, runIndex } from "../src/cli/commands/index.js";
import { packageRoot } from "../src/core/paths.js";
import { startRedis } from "../src/distributed/test-redis.js";
import { encodeImage, rgbImage } from "../test/fixtures/images.js";

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "96" },
    workers: { type: "string", default: "1,2" },
    batch: { type: "string", default: "16" },
    flickr8k: { type: "string" },
  },
});
const count = Number(values.images);
const work = mkdtempSync(path.join(os.tmpdir(), "captionkit-queue-bench-"));
const photos = path.join(work, "photos");
mkdirSync(photos);
const flickr = values.flickr8k ?? path.join(packageRoot(), "../shared/datasets/flickr8k");
if (existsSync(path.join(flickr, "splits/val.txt"))) {
  const names = readFileSync(path.join(flickr, "splits/val.txt"), "utf8").split(/\s+/).filter(Boolean);
  for (const name of names.slice(0, count))
    copyFileSync(path.join(flickr, "images", name), path.join(photos, name));
  console.log(`${count} Flickr8k val photos`);
} else {
  for (let i = 0; i < count; i++) {
    const image = rgbImage(320, 240, (x, y) => [(x + i * 13) % 256, (y + i * 29) % 256, (i * 47) % 256]);
    writeFileSync(path.join(photos, `img${i}.png`), await encodeImage(image, "png"));
  }
  console.log(`${count} generated 320x240 photos (no Flickr8k at ${flickr})`);
}
const quiet = { ...defaultIndexIo, stdout: () => {}, stderr: (t: string) => process.stderr.write(t) };
const load = () => os.loadavg()[0]!.toFixed(2);
const batch = Number(values.batch);

{
  const db = path.join(work, "local.sqlite");
  // the model loads inside runIndex: timed separately by a first run on one photo
  const started = performance.now();
  await runIndex(photos, { db, batch }, quiet);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `local index: ${(count / seconds).toFixed(2)} images/s (${seconds.toFixed(1)} s, model load included; load ${load()})`,
  );
}

// the CLI from source (bin/ runs dist/, which may be older than the tree)
const entry = path.join(work, "captionkit.mts"); // .mts: an ES module outside the package
const mainUrl = pathToFileURL(path.join(packageRoot(), "src/cli/main.ts")).href;
writeFileSync(
  entry,
  `process.env.ORT_DISABLE_TELEMETRY = "1";\nconst { main } = await import(${JSON.stringify(mainUrl)});\nawait main(process.argv);\n`,
);
try {
  for (const n of values.workers.split(",").map(Number)) {
    const redis = await startRedis();
    const workers = Array.from({ length: n }, () => {
      const proc = spawn(
        process.execPath,
        ["--import", "tsx", entry, "worker", "--redis", redis.url, "--status-every", "0"],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let err = "";
      proc.stderr.on("data", (c) => {
        err += String(c);
      });
      return {
        proc,
        ready: () => err.includes("ready on queue"),
        exited: new Promise((r) => proc.on("exit", r)),
      };
    });
    while (!workers.every((w) => w.ready())) await new Promise((r) => setTimeout(r, 100));
    const db = path.join(work, `queue-${n}.sqlite`);
    const started = performance.now();
    await runIndex(photos, { db, batch, redis: redis.url, inFlight: 4 * n }, quiet);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${n} worker(s): ${(count / seconds).toFixed(2)} images/s (${seconds.toFixed(1)} s; load ${load()})`,
    );
    for (const w of workers) w.proc.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await redis.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
