import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";

const TMP_MARK = ".tmp-";

/** File contents: bytes, text, or parts written one after the other (no concatenated copy). */
export type FileData = Uint8Array | string | readonly Uint8Array[];

function tempName(file: string): string {
  return `${file}${TMP_MARK}${randomBytes(4).toString("hex")}`;
}

/**
 * The one atomic file write: readers see either nothing or the whole file. Data goes to a temp name in
 * the same folder, is fsynced, then renamed over the target (rename is atomic within a filesystem), and
 * the folder is fsynced so the rename itself survives a crash.
 */
export async function writeFileAtomic(file: string, data: FileData): Promise<void> {
  const tmp = tempName(file);
  const handle = await open(tmp, "w");
  try {
    if (typeof data === "string" || data instanceof Uint8Array) await handle.writeFile(data);
    else for (const part of data) await handle.write(part);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

/** writeFileAtomic for synchronous callers (training checkpoints, written between steps). */
export function writeFileAtomicSync(file: string, data: FileData): void {
  const tmp = tempName(file);
  const fd = openSync(tmp, "w");
  try {
    const parts = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
    for (const part of parts) writeSync(fd, part);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDirSync(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic there
  } finally {
    await handle.close();
  }
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } catch {
    // as above
  } finally {
    closeSync(fd);
  }
}

/** Removes temp files a killed writer left behind. */
export async function removeStaleTemps(dir: string): Promise<number> {
  const names = await readdir(dir);
  const stale = names.filter((n) => n.includes(TMP_MARK));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
  return stale.length;
}
