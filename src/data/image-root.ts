import { readdir, stat } from "node:fs/promises";
import path from "node:path";

/** How many listed images are probed when guessing the image folder. */
const PROBE = 20;

/**
 * Picks the folder that relative image paths resolve against when the user gave none: the one among
 * the dataset file's folder, `images/` beside it, its parent (and `<parent>/images`, plus COCO-style
 * hints such as `../val2014`) that holds the most of the first few listed images. Ties keep the earlier
 * candidate, so the file's own folder wins when nothing is found and the missing-image error names it.
 */
export async function guessImageRoot(
  datasetFile: string,
  files: readonly string[],
  hints: readonly string[],
) {
  const here = path.dirname(datasetFile);
  const parent = path.dirname(here);
  const candidates = [
    here,
    path.join(here, "images"),
    ...hints.flatMap((hint) => [path.join(here, hint), path.join(parent, hint)]),
    parent,
    path.join(parent, "images"),
  ];
  const probe = files.filter((file) => !path.isAbsolute(file)).slice(0, PROBE);
  if (probe.length === 0) return here;
  let best = { root: here, hits: 0 };
  for (const root of candidates) {
    if (!(await isDirectory(root))) continue;
    const missing = await findMissing(probe.map((file) => path.join(root, file)));
    const hits = probe.length - missing.size;
    if (hits > best.hits) best = { root, hits };
    if (hits === probe.length) break;
  }
  return best.root;
}

async function isDirectory(folder: string): Promise<boolean> {
  try {
    return (await stat(folder)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The paths that do not exist as files. Reads each folder once instead of stat-ing every image:
 * a COCO split is 40k-80k files in one folder.
 */
export async function findMissing(paths: readonly string[]): Promise<Set<string>> {
  const byFolder = new Map<string, string[]>();
  for (const file of paths) {
    const folder = path.dirname(file);
    const list = byFolder.get(folder);
    if (list) list.push(file);
    else byFolder.set(folder, [file]);
  }
  const missing = new Set<string>();
  for (const [folder, files] of byFolder) {
    let names: Set<string>;
    try {
      const entries = await readdir(folder, { withFileTypes: true });
      // Symlinked images count as present; the image stage reports them if they turn out unreadable.
      names = new Set(entries.filter((entry) => !entry.isDirectory()).map((entry) => entry.name));
    } catch {
      names = new Set();
    }
    for (const file of files) if (!names.has(path.basename(file))) missing.add(file);
  }
  return missing;
}
