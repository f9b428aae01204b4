import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../test-fixtures.js";
import { openDatabase, SCHEMA_VERSION, schemaVersion } from "./schema.js";
import { PhotoStore } from "./store.js";

describe("photo index schema", () => {
  it("creates a fresh index at the latest version in WAL mode", async () => {
    const db = openDatabase(path.join(await tempDir(), "new.sqlite"));
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("upgrades a v1 index: captions written under v1 become full-text searchable", async () => {
    const file = path.join(await tempDir(), "old.sqlite");
    const v1 = openDatabase(file, { targetVersion: 1 });
    expect(schemaVersion(v1)).toBe(1);
    v1.prepare(
      "INSERT INTO images (path, size, mtime_ms, hash, caption, confidence, indexed_at) VALUES (?, 1, 1, ?, ?, 0.5, 'x')",
    ).run("/photos/dog.jpg", "h1", "A dog runs on the beach.");
    v1.prepare("INSERT INTO features (image_id, encoder, pooled) VALUES (1, 'e', x'0000')").run();
    v1.close();

    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const store = new PhotoStore(db);
    expect(store.fullText('"beach"', 5).map((r) => r.path)).toEqual(["/photos/dog.jpg"]);
    expect(store.features(1)).toHaveLength(1);
    // the triggers keep FTS in sync for rows written after the upgrade
    store.putImage({
      path: "/photos/cat.jpg",
      size: 2,
      mtimeMs: 2,
      hash: "h2",
      caption: "A cat sleeps.",
      confidence: 1,
    });
    expect(store.fullText('"cat"', 5).map((r) => r.path)).toEqual(["/photos/cat.jpg"]);
    store.remove(1);
    expect(store.fullText('"beach"', 5)).toEqual([]);
    db.close();
  });

  it("refuses an index from a newer captionkit, and a read-only open of an old one", async () => {
    const dir = await tempDir();
    const future = openDatabase(path.join(dir, "future.sqlite"));
    future.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    expect(() => openDatabase(path.join(dir, "future.sqlite"))).toThrow(/newer than this captionkit/);
    openDatabase(path.join(dir, "old.sqlite"), { targetVersion: 1 }).close();
    expect(() => openDatabase(path.join(dir, "old.sqlite"), { readonly: true })).toThrow(/captionkit index/);
  });
});
