import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
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
  private fd: number | undefined;
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
    let needsNewline = false;
    if (existsSync(this.path)) {
      const text = readFileSync(this.path, "utf8");
      for (const line of text.split("\n")) {
        const record = parseLine(line);
        if (record?.file && record.error === undefined && record.caption !== undefined) {
          this.done.add(fileKey(record.file.path, record.file.size, record.file.mtime_ms));
        }
      }
      // A run killed mid-line leaves a partial last line; start on a fresh line so the next record parses.
      needsNewline = text.length > 0 && !text.endsWith("\n");
    }
    this.fd = openSync(this.path, "a");
    if (needsNewline) writeSync(this.fd, "\n");
  }

  /** Successful records already in the file. */
  get size(): number {
    return this.done.size;
  }

  has(absolutePath: string): boolean {
    try {
      const info = statSync(absolutePath);
      return this.done.has(fileKey(absolutePath, info.size, info.mtimeMs));
    } catch {
      return false;
    }
  }

  append(record: AltTextRecord): void {
    if (this.fd === undefined) throw new Error(`results file ${this.path} is closed`);
    // writeSync hands the whole line to the OS at once: it survives the process being killed right after.
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    if (record.file && record.error === undefined) {
      this.done.add(fileKey(record.file.path, record.file.size, record.file.mtime_ms));
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseLine(line: string): AltTextRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    return JSON.parse(line) as AltTextRecord;
  } catch {
    return undefined;
  }
}
