import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { saveJointEmbedding } from "./embedding/io.js";
import { indexFolder } from "./indexer.js";
import { loadEmbeddingWithId } from "./models.js";
import { openPhotoSearch } from "./photo-search.js";
import { COLOURS, ColourPipeline, colourEmbedding, tempDir, writeColourImage } from "./test-fixtures.js";

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "test-crash-child.ts");

describe("a killed index run", () => {
  it("leaves a valid database holding whole batches, searchable by embedding; the next run finishes the job", async () => {
    const dir = await tempDir();
    const names = Object.keys(COLOURS);
    for (let i = 0; i < 10; i++) {
      await writeColourImage(path.join(dir, `img${i}.png`), COLOURS[names[i % names.length]!]!);
    }
    // distinct content per file, so nothing is reused by hash
    for (let i = 0; i < 10; i++) {
      const file = path.join(dir, `img${i}.png`);
      const buf = await sharp(file)
        .modulate({ brightness: 1 + i / 100 })
        .png()
        .toBuffer();
      await writeFile(file, buf);
    }
    const db = path.join(dir, "photos.sqlite");
    const embeddingDir = path.join(dir, "embedding");
    await saveJointEmbedding(colourEmbedding(), embeddingDir);
    const proc = spawn(process.execPath, ["--import", "tsx", child, dir, db, embeddingDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let killedAfter = -1;
    await new Promise<void>((resolve) => {
      proc.stdout.on("data", (chunk: Buffer) => {
        const match = /done (\d+)/.exec(chunk.toString());
        if (match && Number(match[1]) >= 4 && killedAfter < 0) {
          killedAfter = Number(match[1]);
          proc.kill("SIGKILL");
        }
      });
      proc.on("exit", () => resolve());
    });
    expect(killedAfter).toBeGreaterThanOrEqual(4);

    const reopened = openDatabase(db);
    expect(reopened.pragma("integrity_check", { simple: true })).toBe("ok");
    reopened.prepare("INSERT INTO captions_fts(captions_fts) VALUES ('integrity-check')").run();
    const store = new PhotoStore(reopened);
    const kept = store.count();
    expect(kept % 2).toBe(0); // whole batches only
    expect(kept).toBeGreaterThanOrEqual(4);
    expect(kept).toBeLessThan(10);

    // what it indexed is searchable by embedding, with no fallback to the captions
    const photos = await openPhotoSearch(db, { embeddingModel: embeddingDir });
    const red = await photos.search("red", { method: "embedding", k: 10 });
    expect(red.method).toBe("embedding");
    expect(red.fallback).toBeUndefined();
    expect(path.basename(red.results[0]!.image)).toMatch(/^img(0|4|8)\.png$/); // the red ones
    const everything = await photos.search("red", { method: "embedding", k: 10, includeWeak: true });
    expect(everything.results).toHaveLength(kept);
    photos.close();

    const pipeline = new ColourPipeline(await loadEmbeddingWithId(embeddingDir));
    const summary = await indexFolder(store, dir, pipeline);
    expect(pipeline.processed).toBe(10 - kept);
    expect(summary.unchanged).toBe(kept);
    expect(store.count()).toBe(10);
    expect(summary.embedded).toBe(10 - kept);
    expect(store.staleEmbeddings((await loadEmbeddingWithId(embeddingDir)).id)).toEqual([]);
    reopened.close();
  });
});
