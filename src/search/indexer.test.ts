import { mkdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { indexFolder, unpackFeatures } from "./indexer.js";
import { COLOURS, ColourPipeline, colourEmbedding, tempDir, writeColourImage } from "./test-fixtures.js";

async function colourFolder(names = Object.keys(COLOURS)): Promise<string> {
  const dir = await tempDir();
  for (const name of names) await writeColourImage(path.join(dir, `${name}.png`), COLOURS[name]!);
  return dir;
}

describe("indexFolder", () => {
  it("indexes every image with caption, features and embedding", async () => {
    const dir = await colourFolder();
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    const pipeline = new ColourPipeline(colourEmbedding());
    const summary = await indexFolder(store, dir, pipeline, { batchSize: 3 });
    expect(summary).toMatchObject({ scanned: 4, added: 4, removed: 0, failed: 0, embedded: 4 });
    const red = store.byPath(path.join(dir, "red.png"))!;
    expect(store.db.prepare("SELECT caption FROM images WHERE id = ?").get(red.id)).toEqual({
      caption: "A red square.",
    });
    const [features] = store.features(red.id).map(unpackFeatures);
    expect(features!.regions).toBe(4);
    expect(features!.pooled[0]).toBeCloseTo(220 / 255, 2);
    expect(features!.grid![0]).toBeCloseTo(220 / 255, 2);
    expect(store.staleEmbeddings("colour-embedding")).toEqual([]);
    store.db.close();
  });

  it("re-indexes incrementally: only new and changed files are processed, deleted ones dropped", async () => {
    const dir = await colourFolder(["red", "green", "blue"]);
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    await indexFolder(store, dir, new ColourPipeline());

    const again = new ColourPipeline();
    expect(await indexFolder(store, dir, again)).toMatchObject({ unchanged: 3, added: 0, updated: 0 });
    expect(again.processed).toBe(0);

    await writeColourImage(path.join(dir, "yellow.png"), COLOURS.yellow!); // added
    await writeColourImage(path.join(dir, "green.png"), COLOURS.blue!); // changed content
    await rm(path.join(dir, "red.png")); // deleted
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(dir, "blue.png"), later, later); // touched, same content
    const third = new ColourPipeline();
    const summary = await indexFolder(store, dir, third);
    expect(summary).toMatchObject({ scanned: 3, removed: 1, unchanged: 1 });
    // green.png now holds blue pixels, the same content as blue.png: copied, not recomputed
    expect(summary.added + summary.updated).toBe(2);
    expect(third.processed).toBe(1);
    expect(store.count()).toBe(3);
    const captions = store.captions().map((r) => [path.basename(r.path), r.caption]);
    expect(captions).toContainEqual(["green.png", "A blue square."]);
    expect(captions).toContainEqual(["yellow.png", "A yellow square."]);
    expect(captions.find(([name]) => name === "red.png")).toBeUndefined();
    store.db.close();
  });

  it("reuses the work for a moved file and skips unreadable ones without stopping", async () => {
    const dir = await colourFolder(["red", "blue"]);
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    await indexFolder(store, dir, new ColourPipeline());
    await rename(path.join(dir, "red.png"), path.join(dir, "crimson.png"));
    await writeFile(path.join(dir, "broken.jpg"), "not an image");
    const errors: string[] = [];
    const pipeline = new ColourPipeline();
    const summary = await indexFolder(store, dir, pipeline, {
      onError: (p) => errors.push(path.basename(p)),
    });
    expect(summary).toMatchObject({ removed: 1, reused: 1, failed: 1, added: 1 });
    expect(pipeline.processed).toBe(0);
    expect(errors).toEqual(["broken.jpg"]);
    expect(store.byPath(path.join(dir, "crimson.png"))).toBeDefined();
    store.db.close();
  });

  it("keeps subfolders out unless recursive", async () => {
    const dir = await colourFolder(["red"]);
    await mkdir(path.join(dir, "sub"));
    await writeColourImage(path.join(dir, "sub", "green.png"), COLOURS.green!);
    const store = new PhotoStore(openDatabase(path.join(dir, "photos.sqlite")));
    expect((await indexFolder(store, dir, new ColourPipeline())).scanned).toBe(1);
    expect((await indexFolder(store, dir, new ColourPipeline(), { recursive: true })).added).toBe(1);
    // a flat re-run does not treat the subfolder's images as deleted
    expect((await indexFolder(store, dir, new ColourPipeline())).removed).toBe(0);
    expect(store.count()).toBe(2);
    store.db.close();
  });
});
