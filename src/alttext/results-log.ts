import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { resolve } from "node:path";
import type { AltTextRecord } from "./types.js";

/** Identity of an image file for resuming: a changed file (new size or mtime) is captioned again. */
export function fileKey(absolutePath: string, size: number, mtimeMs: number): string {
  return `${absolutePath}\u0000${size}\u0000${Math.round(mtimeMs)}`;
}

/**
 * The resumable JSONL results file. Every record is appended with one write() as soon as it exists, so a
 * killed run loses at most the images in flight; a rerun skips files whose path, size and mtime match a
 * successful line. Error lines are not skipped: they are retried.
 */
export class ResultsLog {
  private readonly done = new Set<string>();
  /** Of those, the ones where a person's description was kept in the sidecar or image. */
  private readonly kept = new Set<string>();
  private fd: number | undefined;
  readonly path: string;

  /** Bytes of a torn last line (a run killed mid-write) cut off when the file was opened. */
  readonly repairedBytes: number = 0;
  /** Earlier lines that are not JSON (left by older versions, or edited by hand): kept, but not resumed from. */
  readonly unreadableLines: number = 0;

  constructor(path: string) {
    this.path = resolve(path);
    if (existsSync(this.path)) {
      const bytes = readFileSync(this.path);
      // A run killed mid-line leaves a partial last line, which would break every JSONL reader of the file:
      // cut the file back to its last complete line before appending.
      // (A whole record that only lacks its newline is kept and finished instead.)
      const end = bytes.lastIndexOf(0x0a) + 1;
      let kept = bytes.toString("utf8");
      if (end < bytes.length) {
        if (parseLine(kept.slice(kept.lastIndexOf("\n") + 1))) {
          writeFileSync(this.path, "\n", { flag: "a" });
        } else {
          truncateSync(this.path, end);
          this.repairedBytes = bytes.length - end;
          kept = bytes.subarray(0, end).toString("utf8");
        }
      }
      let unreadable = 0;
      for (const line of kept.split("\n")) {
        if (!line.trim()) continue;
        const record = parseLine(line);
        if (!record) unreadable += 1;
        else if (record.caption !== undefined) this.remember(record);
      }
      this.unreadableLines = unreadable;
    }
    this.fd = openSync(this.path, "a");
  }

  /** Successful records already in the file. */
  get size(): number {
    return this.done.size;
  }

  /** Whether the file, as it is now, has a successful line; `retryKept` leaves out those that kept a description. */
  has(absolutePath: string, options: { retryKept?: boolean } = {}): boolean {
    try {
      const info = statSync(absolutePath);
      const key = fileKey(absolutePath, info.size, info.mtimeMs);
      return this.done.has(key) && !(options.retryKept && this.kept.has(key));
    } catch {
      return false;
    }
  }

  append(record: AltTextRecord): void {
    if (this.fd === undefined) throw new Error(`results file ${this.path} is closed`);
    // writeSync hands the whole line to the OS at once: it survives the process being killed right after.
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    this.remember(record);
  }

  private remember(record: AltTextRecord): void {
    if (!record.file || record.error !== undefined) return;
    const key = fileKey(record.file.path, record.file.size, record.file.mtime_ms);
    this.done.add(key);
    if (record.kept_description?.length) this.kept.add(key);
    else this.kept.delete(key);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseLine(line: string): AltTextRecord | undefined {
  try {
    return JSON.parse(line) as AltTextRecord;
  } catch {
    return undefined;
  }
}
