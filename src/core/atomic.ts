import { randomBytes } from "node:crypto";
import { open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";

const TMP_MARK = ".tmp-";

/**
 * Writes a file so that readers see either nothing or the whole file: data goes to a temp name in the
 * same folder, is fsynced, then renamed over the target (rename is atomic within a filesystem), and the
 * folder is fsynced so the rename itself survives a crash.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}${TMP_MARK}${randomBytes(4).toString("hex")}`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
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

/** Removes temp files a killed writer left behind. */
export async function removeStaleTemps(dir: string): Promise<number> {
  const names = await readdir(dir);
  const stale = names.filter((n) => n.includes(TMP_MARK));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
  return stale.length;
}
