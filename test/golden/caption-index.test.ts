import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/alttext/captioner.js";
import { defaultIndexIo, runIndex } from "../../src/cli/commands/index.js";
import { openDatabase } from "../../src/search/db/schema.js";
import { PhotoStore } from "../../src/search/db/store.js";
import { DEFAULT_EMBEDDING_DIR } from "../../src/search/models.js";
import { goldenImages } from "./golden-run.js";

// The index used to caption through its own path, without test-time mirroring, so `index` and
// `caption` disagreed on some photos. Both now go through one CaptionModel behind one image captioner.
describe("caption and index, shipped default model", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("give the same caption for every photo of a folder", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "captionkit-agree-"));
    dirs.push(dir);
    const folder = path.join(dir, "photos");
    await import("node:fs/promises").then((fs) => fs.mkdir(folder));
    const images = await goldenImages();
    const files = await Promise.all(
      images.map(async (bytes, i) => {
        const file = path.join(folder, `photo-${i}.png`);
        await writeFile(file, bytes);
        return file;
      }),
    );
    // `captionkit caption` path (beam 3 is its default)
    const captioner = await loadModel();
    const captioned = await captioner.caption(files, { beam: 3 });
    captioner.dispose();
    // `captionkit index` path
    const db = path.join(dir, "photos.sqlite");
    await runIndex(
      folder,
      { db, embeddingModel: DEFAULT_EMBEDDING_DIR },
      { ...defaultIndexIo, stdout: () => {}, stderr: () => {} },
    );
    const store = new PhotoStore(openDatabase(db));
    const indexed = new Map(store.captions().map((row) => [row.path, row.caption]));
    store.db.close();
    expect(indexed.size).toBe(files.length);
    files.forEach((file, i) => {
      expect(indexed.get(file), file).toBe(captioned[i]!.caption);
    });
  });
});
