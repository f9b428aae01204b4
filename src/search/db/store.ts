import type { Db } from "./schema.js";

export interface ImageRow {
  id: number;
  path: string;
  size: number;
  mtime_ms: number;
  hash: string;
}

export interface NewImage {
  path: string;
  size: number;
  mtimeMs: number;
  hash: string;
  caption: string;
  confidence: number;
}

export interface StoredFeatures {
  encoder: string;
  /** float16 bytes */
  pooled: Buffer;
  /** quantizeRows bytes, when the ranking needs the grid */
  grid: Buffer | null;
}

/** Typed statements over the index schema; the only module that writes SQL for images. */
export class PhotoStore {
  private readonly stmts;

  constructor(readonly db: Db) {
    this.stmts = {
      byPath: db.prepare("SELECT id, path, size, mtime_ms, hash FROM images WHERE path = ?"),
      byId: db.prepare("SELECT id, path, size, mtime_ms, hash FROM images WHERE id = ?"),
      brief: db.prepare("SELECT id, path, caption FROM images WHERE id = ?"),
      pathRange: db.prepare("SELECT min(path) AS first, max(path) AS last FROM images"),
      all: db.prepare("SELECT id, path, size, mtime_ms, hash FROM images"),
      byHash: db.prepare("SELECT id FROM images WHERE hash = ? LIMIT 1"),
      upsert: db.prepare(`
        INSERT INTO images (path, size, mtime_ms, hash, caption, confidence, indexed_at)
        VALUES (@path, @size, @mtimeMs, @hash, @caption, @confidence, @indexedAt)
        ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
          hash = excluded.hash, caption = excluded.caption, confidence = excluded.confidence,
          indexed_at = excluded.indexed_at
        RETURNING id`),
      touch: db.prepare("UPDATE images SET size = ?, mtime_ms = ? WHERE id = ?"),
      remove: db.prepare("DELETE FROM images WHERE id = ?"),
      clearFeatures: db.prepare("DELETE FROM features WHERE image_id = ?"),
      putFeatures: db.prepare(
        "INSERT OR REPLACE INTO features (image_id, encoder, pooled, grid) VALUES (?, ?, ?, ?)",
      ),
      features: db.prepare("SELECT encoder, pooled, grid FROM features WHERE image_id = ?"),
      putEmbedding: db.prepare(
        "INSERT OR REPLACE INTO embeddings (image_id, model, vector) VALUES (?, ?, ?)",
      ),
      clearEmbedding: db.prepare("DELETE FROM embeddings WHERE image_id = ?"),
      staleEmbeddings: db.prepare(
        "SELECT images.id FROM images LEFT JOIN embeddings ON embeddings.image_id = images.id " +
          "WHERE embeddings.model IS NULL OR embeddings.model != ? ORDER BY images.id",
      ),
      embeddings: db.prepare(
        "SELECT images.id, images.path, images.caption, embeddings.vector FROM images " +
          "JOIN embeddings ON embeddings.image_id = images.id WHERE embeddings.model = ? ORDER BY images.id",
      ),
      embedding: db.prepare("SELECT vector FROM embeddings WHERE image_id = ? AND model = ?").pluck(),
      embeddingVectors: db.prepare("SELECT image_id AS id, vector FROM embeddings WHERE model = ?"),
      embeddingBytes: db.prepare("SELECT length(vector) FROM embeddings WHERE model = ? LIMIT 1").pluck(),
      embeddingCount: db.prepare("SELECT count(*) FROM embeddings WHERE model = ?").pluck(),
      logEnd: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'embedding_log'").pluck(),
      logStart: db.prepare("SELECT min(seq) FROM embedding_log").pluck(),
      logSince: db.prepare("SELECT DISTINCT image_id FROM embedding_log WHERE seq > ? AND seq <= ?").pluck(),
      logPrune: db.prepare("DELETE FROM embedding_log WHERE seq <= ?"),
      captions: db.prepare("SELECT id, path, caption FROM images ORDER BY id"),
      count: db.prepare("SELECT count(*) AS n FROM images"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      fts: db.prepare(
        "SELECT images.id, images.path, images.caption, bm25(captions_fts) AS rank FROM captions_fts " +
          "JOIN images ON images.id = captions_fts.rowid WHERE captions_fts MATCH ? ORDER BY rank LIMIT ?",
      ),
      ftsIds: db.prepare("SELECT rowid AS id FROM captions_fts WHERE captions_fts MATCH ?").pluck(),
    };
  }

  byPath(path: string): ImageRow | undefined {
    return this.stmts.byPath.get(path) as ImageRow | undefined;
  }

  byId(id: number): ImageRow | undefined {
    return this.stmts.byId.get(id) as ImageRow | undefined;
  }

  brief(id: number): { id: number; path: string; caption: string } | undefined {
    return this.stmts.brief.get(id) as { id: number; path: string; caption: string } | undefined;
  }

  /** Alphabetically first and last indexed paths: their common prefix is every path's. */
  pathRange(): { first: string | null; last: string | null } {
    return this.stmts.pathRange.get() as { first: string | null; last: string | null };
  }

  all(): ImageRow[] {
    return this.stmts.all.all() as ImageRow[];
  }

  idByHash(hash: string): number | undefined {
    return (this.stmts.byHash.get(hash) as { id: number } | undefined)?.id;
  }

  /** Inserts or replaces the image at this path; its old features and embedding are dropped. */
  putImage(image: NewImage): number {
    const { id } = this.stmts.upsert.get({ ...image, indexedAt: new Date().toISOString() }) as { id: number };
    this.stmts.clearFeatures.run(id);
    this.stmts.clearEmbedding.run(id);
    return id;
  }

  touch(id: number, size: number, mtimeMs: number): void {
    this.stmts.touch.run(size, mtimeMs, id);
  }

  remove(id: number): void {
    this.stmts.remove.run(id);
  }

  putFeatures(id: number, features: StoredFeatures): void {
    this.stmts.putFeatures.run(id, features.encoder, features.pooled, features.grid);
  }

  features(id: number): StoredFeatures[] {
    return this.stmts.features.all(id) as StoredFeatures[];
  }

  putEmbedding(id: number, model: string, vector: Buffer): void {
    this.stmts.putEmbedding.run(id, model, vector);
  }

  /** Ids of images without an embedding from this model (new images, or a model change). */
  staleEmbeddings(model: string): number[] {
    return (this.stmts.staleEmbeddings.all(model) as { id: number }[]).map((r) => r.id);
  }

  embeddings(model: string): { id: number; path: string; caption: string; vector: Buffer }[] {
    return this.stmts.embeddings.all(model) as {
      id: number;
      path: string;
      caption: string;
      vector: Buffer;
    }[];
  }

  /** One image's vector from this model, if it has one. */
  embedding(id: number, model: string): Buffer | undefined {
    return this.stmts.embedding.get(id, model) as Buffer | undefined;
  }

  /** Every vector from this model, streamed (a million rows never sit in one array). */
  embeddingVectors(model: string): IterableIterator<{ id: number; vector: Buffer }> {
    return this.stmts.embeddingVectors.iterate(model) as IterableIterator<{ id: number; vector: Buffer }>;
  }

  /** Bytes of one vector from this model (undefined without any). */
  embeddingBytes(model: string): number | undefined {
    return this.stmts.embeddingBytes.get(model) as number | undefined;
  }

  embeddingCount(model: string): number {
    return this.stmts.embeddingCount.get(model) as number;
  }

  /**
   * The embedding change log (schema v3): every vector written or dropped appends its image id.
   * `end` is the last sequence number ever given (0 before the first), `start` the oldest still kept.
   */
  embeddingLog(): { start: number | undefined; end: number } {
    const start = this.stmts.logStart.get() as number | null;
    return { start: start ?? undefined, end: (this.stmts.logEnd.get() as number | undefined) ?? 0 };
  }

  /** Image ids whose vector changed after sequence `after`, up to `upTo`. */
  embeddingChanges(after: number, upTo: number): number[] {
    return this.stmts.logSince.all(after, upTo) as number[];
  }

  /** Forgets log entries up to `upTo`: whoever needed them has saved their effect. */
  pruneEmbeddingLog(upTo: number): void {
    this.stmts.logPrune.run(upTo);
  }

  captions(): { id: number; path: string; caption: string }[] {
    return this.stmts.captions.all() as { id: number; path: string; caption: string }[];
  }

  count(): number {
    return (this.stmts.count.get() as { n: number }).n;
  }

  /** FTS5 MATCH expression -> best BM25 first (bm25() is lower-is-better, so rank ascends); limit -1: all. */
  fullText(match: string, limit: number): { id: number; path: string; caption: string; rank: number }[] {
    return this.stmts.fts.all(match, limit) as { id: number; path: string; caption: string; rank: number }[];
  }

  /** Ids of the images whose caption matches an FTS5 expression, in no order. */
  fullTextIds(match: string): number[] {
    return this.stmts.ftsIds.all(match) as number[];
  }

  getMeta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }
}
