import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { DatasetError, listSome } from "./errors.js";
import type { CaptionedImage } from "./types.js";

/** Folder of split lists beside a dataset file, as in ../shared/datasets/flickr8k/splits/. */
export const SPLITS_FOLDER = "splits";

/** Image names from a split-list file: one per line; blank lines and `#` comments are skipped. */
export async function readSplitList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new DatasetError(file, undefined, `cannot read split list (${(error as Error).message})`);
  }
  return text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** `splits/<name>.txt` lists beside the dataset file, by split name (empty when there is no such folder). */
export async function splitFolderLists(datasetFile: string): Promise<Map<string, string>> {
  const folder = path.join(path.dirname(datasetFile), SPLITS_FOLDER);
  const lists = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return lists;
  }
  for (const name of names.sort()) {
    if (name.endsWith(".txt")) lists.set(name.slice(0, -".txt".length), path.join(folder, name));
  }
  return lists;
}

/**
 * Finds images by any name a split list may use: the dataset id, the file as the dataset names it,
 * or its base name (Karpathy COCO lists `val2014/COCO_val2014_...jpg`, other lists just the file).
 */
export class ImageLookup {
  private readonly byName = new Map<string, CaptionedImage>();

  constructor(images: readonly CaptionedImage[], files: readonly string[]) {
    images.forEach((image, index) => {
      const file = files[index]!.split(path.sep).join("/");
      for (const key of [image.id, file, path.posix.basename(file)]) {
        if (!this.byName.has(key)) this.byName.set(key, image);
      }
    });
  }

  find(name: string): CaptionedImage | undefined {
    return this.byName.get(name) ?? this.byName.get(name.split("\\").join("/"));
  }

  /** The images a list names, plus the names it could not place. */
  resolve(names: readonly string[]): { found: Set<CaptionedImage>; unknown: string[] } {
    const found = new Set<CaptionedImage>();
    const unknown: string[] = [];
    for (const name of names) {
      const image = this.find(name);
      if (image) found.add(image);
      else unknown.push(name);
    }
    return { found, unknown };
  }
}

/** Warning text for list entries that name no image of the dataset. */
export function unknownNamesWarning(listFile: string, unknown: readonly string[]): string {
  return `${listFile}: ${unknown.length} names are not in the dataset (${listSome(unknown)})`;
}

/** True when `value` names an existing file, i.e. a split-list path rather than a split name. */
export async function isFile(value: string): Promise<boolean> {
  try {
    return (await stat(value)).isFile();
  } catch {
    return false;
  }
}
