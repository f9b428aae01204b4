import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../search/db/schema.js";
import { PhotoStore } from "../search/db/store.js";
import { indexFolder } from "../search/indexer.js";
import type { PipelineInput } from "../search/pipeline.js";
import {
  COLOURS,
  ColourPipeline,
  colourEmbedding,
  tempDir,
  writeColourImage,
} from "../search/test-fixtures.js";
import { QueuePipeline } from "./producer.js";
import { HAVE_REDIS, startRedis, type TestRedis } from "./test-redis.js";
import { startCaptionWorker } from "./worker.js";

if (!HAVE_REDIS)
  console.log("skipping queue tests: redis-server is not installed (apt-get install redis-server)");

const embedding = { model: colourEmbedding(), id: "colour-embedding", dir: "/none" };

/** A folder of n distinct coloured squares. */
async function photos(n: number): Promise<string> {
  const dir = await tempDir();
  const colours = Object.values(COLOURS);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = colours[i % colours.length]!;
    await writeColourImage(path.join(dir, `img${String(i).padStart(2, "0")}.png`), [r, g, (b + i * 7) % 256]);
  }
  return dir;
}

describe.skipIf(!HAVE_REDIS)("the BullMQ queue between producer and workers", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("a restarted producer writes the results computed meanwhile instead of queueing them again", async () => {
    const dir = await photos(12);
    const queue = "restart";
    const pipeline = new ColourPipeline(embedding.model, 30);
    const worker = await startCaptionWorker(pipeline, { redis: redis.url, queue, concurrency: 4 });
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    const connect = () =>
      QueuePipeline.connect({ redis: redis.url, queue, captionModel: "colour-test", embedding });

    // the first producer dies after writing its first batch; the other batches are already queued
    const first = await connect();
    first.committed = async () => {
      throw new Error("producer killed");
    };
    const options = {
      batchSize: 3,
      inFlight: 4,
      stableBatches: true,
      annMinVectors: Number.POSITIVE_INFINITY,
    };
    await expect(indexFolder(store, dir, first, options)).rejects.toThrow("producer killed");
    expect(store.count()).toBe(3);
    const counts = async () => (await first.counts()) as Record<string, number>;
    for (let tries = 0; (await counts()).completed! < 4 && tries < 200; tries++)
      await new Promise((r) => setTimeout(r, 50));
    await first.close();
    expect(pipeline.processed).toBe(12);

    const second = await connect();
    const summary = await indexFolder(store, dir, second, options);
    expect(summary).toMatchObject({ added: 9, unchanged: 3, failed: 0 });
    expect(pipeline.processed).toBe(12); // nothing captioned twice
    expect(store.count()).toBe(12);
    // results are dropped once written; the one left is the batch the first producer wrote but died
    // before removing (BullMQ drops it after a week)
    expect((await second.counts()).completed).toBe(1);
    await second.close();
    await worker.close();
    store.db.close();
  }, 60_000);

  it("a batch that keeps failing is retried image by image; the image that still fails is an error record", async () => {
    const dir = await photos(6);
    await writeFile(path.join(dir, "poison.png"), "");
    const queue = "poison";
    const colours = new ColourPipeline(embedding.model);
    const poisoned = {
      ...colours,
      captionModel: colours.captionModel,
      embeddingModel: colours.embeddingModel,
      dispose: () => {},
      async process(inputs: PipelineInput[]) {
        // a photo that crashes the pipeline itself, not one it reports as unreadable
        if (inputs.some((i) => i.path.endsWith("poison.png"))) throw new Error("decoder crashed");
        return colours.process(inputs);
      },
    };
    const worker = await startCaptionWorker(poisoned, { redis: redis.url, queue });
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    const producer = await QueuePipeline.connect({
      redis: redis.url,
      queue,
      captionModel: "colour-test",
      embedding,
      attempts: 2,
    });
    const failures: string[] = [];
    const summary = await indexFolder(store, dir, producer, {
      batchSize: 4,
      inFlight: 2,
      stableBatches: true,
      onError: (image, error) => failures.push(`${path.basename(image)}: ${error.message}`),
    });
    expect(summary).toMatchObject({ added: 6, failed: 1 });
    expect(failures).toEqual([expect.stringMatching(/^poison\.png: queue job \w+ failed: decoder crashed/)]);
    expect(worker.stats.jobs).toBeGreaterThanOrEqual(2);
    await producer.close();
    await worker.close();
    store.db.close();
  }, 60_000);

  it("a worker with other models than the producer's fails the job with a message saying so", async () => {
    const dir = await photos(2);
    const queue = "mismatch";
    const worker = await startCaptionWorker(new ColourPipeline(embedding.model), { redis: redis.url, queue });
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    const producer = await QueuePipeline.connect({
      redis: redis.url,
      queue,
      captionModel: "another-model",
      embedding,
      attempts: 1,
    });
    const failures: string[] = [];
    const summary = await indexFolder(store, dir, producer, { onError: (_, e) => failures.push(e.message) });
    expect(summary.failed).toBe(2);
    expect(failures[0]).toMatch(/runs caption model colour-test .* asked for another-model/);
    await producer.close();
    await worker.close();
    store.db.close();
  }, 60_000);
});
