import Database from "better-sqlite3";

export type Db = Database.Database;

/**
 * Ordered migrations: MIGRATIONS[i] takes a database from schema version i to i + 1. The version lives
 * in SQLite's user_version header field, so it is read without any table existing. Never edit a
 * shipped migration: add a new one, so every older index upgrades along the same path.
 */
export const MIGRATIONS: ReadonlyArray<(db: Db) => void> = [
  // v1: one row per image with its caption, and the encoder features it was captioned from.
  (db) => {
    db.exec(`
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ms REAL NOT NULL,
        hash TEXT NOT NULL,
        caption TEXT NOT NULL,
        confidence REAL NOT NULL,
        indexed_at TEXT NOT NULL
      );
      CREATE INDEX images_hash ON images(hash);
      CREATE TABLE features (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        encoder TEXT NOT NULL,
        pooled BLOB NOT NULL,
        grid BLOB,
        PRIMARY KEY (image_id, encoder)
      );
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  },
  // v2: full-text search over captions (BM25 via FTS5, kept in sync by triggers) and joint-embedding
  // vectors. Captions indexed under v1 become searchable through the rebuild below.
  (db) => {
    db.exec(`
      CREATE VIRTUAL TABLE captions_fts USING fts5(
        caption, content='images', content_rowid='id', tokenize='porter unicode61'
      );
      CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN
        INSERT INTO captions_fts(rowid, caption) VALUES (new.id, new.caption);
      END;
      CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN
        INSERT INTO captions_fts(captions_fts, rowid, caption) VALUES ('delete', old.id, old.caption);
      END;
      CREATE TRIGGER images_fts_update AFTER UPDATE OF caption ON images BEGIN
        INSERT INTO captions_fts(captions_fts, rowid, caption) VALUES ('delete', old.id, old.caption);
        INSERT INTO captions_fts(rowid, caption) VALUES (new.id, new.caption);
      END;
      INSERT INTO captions_fts(captions_fts) VALUES ('rebuild');
      CREATE TABLE embeddings (
        image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
      );
    `);
  },
  // v3: a change log of the embeddings table (every insert or delete of a vector appends the image id),
  // so the approximate nearest-neighbour file beside the index (search/ann/) catches up on what changed
  // since it was saved instead of being rebuilt; index_uid ties that file to this database.
  (db) => {
    db.exec(`
      CREATE TABLE embedding_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, image_id INTEGER NOT NULL);
      CREATE TRIGGER embeddings_log_insert AFTER INSERT ON embeddings BEGIN
        INSERT INTO embedding_log (image_id) VALUES (new.image_id);
      END;
      CREATE TRIGGER embeddings_log_delete AFTER DELETE ON embeddings BEGIN
        INSERT INTO embedding_log (image_id) VALUES (old.image_id);
      END;
      CREATE TRIGGER embeddings_log_update AFTER UPDATE ON embeddings BEGIN
        INSERT INTO embedding_log (image_id) VALUES (new.image_id);
      END;
      INSERT OR IGNORE INTO meta (key, value) VALUES ('index_uid', lower(hex(randomblob(16))));
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface OpenOptions {
  readonly?: boolean;
  /** Stop migrating at this version (tests build old databases with it). Default: latest. */
  targetVersion?: number;
}

/**
 * Opens (creating if needed) a photo index and brings its schema up to date, each migration in its
 * own transaction. WAL lets searches read while an index run writes, and a killed writer never
 * leaves a half-written page behind.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const db = new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  const version = schemaVersion(db);
  const target = options.targetVersion ?? SCHEMA_VERSION;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `${file} has schema version ${version}, newer than this captionkit (${SCHEMA_VERSION}); upgrade captionkit`,
    );
  }
  if (options.readonly) {
    if (version < target) {
      db.close();
      throw new Error(
        `${file} has schema version ${version}; run \`captionkit index\` on it once to upgrade`,
      );
    }
  } else {
    db.pragma("journal_mode = WAL");
    // NORMAL is durable across application crashes in WAL mode; only a power cut can lose the last commit.
    db.pragma("synchronous = NORMAL");
    for (let v = version; v < target; v++) {
      db.transaction(() => {
        MIGRATIONS[v]!(db);
        db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }
  db.pragma("foreign_keys = ON");
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}
