import { appendFile, readFile, rm, truncate } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";

const STATE_FILE = "memory.partial.json";
const ROWS_FILE = "memory.partial.f32";

/** What a partial build was computing: a rerun continues it only when all of this is the same. */
export interface PartialKey {
  model: string;
  encoder: string;
  dataset: string;
  split: string;
  /** Image ids in build order, hashed down to count + first + last. */
  images: number;
  first: string;
  last: string;
}

/**
 * The image vectors an interrupted `captionkit memory` has computed so far, kept beside its output:
 * rows are appended to memory.partial.f32 after every batch, then memory.partial.json (written
 * atomically) records how many are complete, so bytes of a batch cut off by a crash are ignored.
 */
export class PartialVectors {
  private constructor(
    private readonly dir: string,
    private readonly key: PartialKey,
    /** The rows found on opening (the earlier run's work), in build order. */
    readonly rows: readonly Float32Array[],
    private width: number,
  ) {
    this.count = rows.length;
  }

  private count: number;

  /** The rows of an earlier run with the same key, or none (an earlier run for anything else is dropped). */
  static async open(dir: string, key: PartialKey): Promise<PartialVectors> {
    try {
      const state = JSON.parse(await readFile(path.join(dir, STATE_FILE), "utf8")) as {
        key: PartialKey;
        rows: number;
        width: number;
      };
      if (JSON.stringify(state.key) === JSON.stringify(key) && state.rows > 0 && state.width > 0) {
        const bytes = await readFile(path.join(dir, ROWS_FILE));
        const complete = Math.min(state.rows, Math.floor(bytes.byteLength / (4 * state.width)));
        const values = new Float32Array(complete * state.width);
        new Uint8Array(values.buffer).set(bytes.subarray(0, values.byteLength));
        const rows = Array.from({ length: complete }, (_, r) =>
          values.slice(r * state.width, (r + 1) * state.width),
        );
        await truncate(path.join(dir, ROWS_FILE), values.byteLength);
        return new PartialVectors(dir, key, rows, state.width);
      }
    } catch {
      // no earlier run, or an unreadable one: start from nothing
    }
    await PartialVectors.clear(dir);
    return new PartialVectors(dir, key, [], 0);
  }

  /** Records more complete rows (in build order). */
  async append(rows: readonly Float32Array[]): Promise<void> {
    if (rows.length === 0) return;
    this.width ||= rows[0]!.length;
    const values = new Float32Array(rows.length * this.width);
    rows.forEach((row, r) => {
      values.set(row, r * this.width);
    });
    await appendFile(path.join(this.dir, ROWS_FILE), new Uint8Array(values.buffer));
    this.count += rows.length;
    const state = { key: this.key, rows: this.count, width: this.width };
    await writeFileAtomic(path.join(this.dir, STATE_FILE), `${JSON.stringify(state)}\n`);
  }

  /** Deletes the partial files (after the memory itself is saved). */
  static async clear(dir: string): Promise<void> {
    await rm(path.join(dir, STATE_FILE), { force: true });
    await rm(path.join(dir, ROWS_FILE), { force: true });
  }
}
