import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { DatasetError, listSome, MissingImagesError } from "./errors.js";
import { parseDatasetText } from "./formats/detect.js";
import type { RawImage } from "./formats/raw.js";
import { findMissing, guessImageRoot } from "./image-root.js";
import { ImageLookup, isFile, readSplitList, splitFolderLists, unknownNamesWarning } from "./splits.js";
import type { CaptionDataset, CaptionedImage, DatasetFormat } from "./types.js";

export interface LoadDatasetOptions {
  /** Folder that relative image paths resolve against (CLI `--images`). Default: guessed, see guessImageRoot. */
  images?: string;
  /**
   * "all" (default), a split name or comma-separated names (the file's own split field, else
   * `splits/<name>.txt` beside the dataset file), or the path of a split-list file.
   */
  split?: string;
  /** Leave out images missing on disk (with a warning) instead of failing (CLI `--skip-missing`). */
  skipMissing?: boolean;
  /** Set false to skip the on-disk check, e.g. when only the captions are needed. Default true. */
  checkImages?: boolean;
  /** Force a format instead of detecting it from the content. */
  format?: DatasetFormat;
  /** Called with each warning as it happens; warnings are also kept in `dataset.warnings`. */
  onWarning?: (message: string) => void;
}

/**
 * Reads a dataset file of any supported format into a CaptionDataset restricted to one split, with
 * absolute image paths that exist on disk.
 *
 * @example
 * const val = await loadDataset("../shared/datasets/flickr8k/captions.tsv", { split: "val" });
 * val.images.length; // 1000, each with 5 captions and a path under .../flickr8k/images/
 */
export async function loadDataset(spec: string, options: LoadDatasetOptions = {}): Promise<CaptionDataset> {
  const source = path.resolve(spec);
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  const text = await readDatasetFile(spec, source);
  const parsed = parseDatasetText(text, spec, options.format);
  parsed.warnings.forEach(warn);

  const files = parsed.images.map((image) => image.file);
  const imageRoot = options.images
    ? path.resolve(options.images)
    : await guessImageRoot(source, files, parsed.folderHints);
  const images = parsed.images.map((raw) => toImage(raw, imageRoot));
  const lookup = new ImageLookup(images, files);

  let splitNames: string[];
  if (parsed.ownSplits) {
    splitNames = [
      ...new Set(images.flatMap((image) => (image.split === undefined ? [] : [image.split]))),
    ].sort();
  } else {
    const lists = await splitFolderLists(source);
    splitNames = [...lists.keys()];
    for (const [name, listFile] of lists) await assignSplit(name, listFile, lookup, warn);
  }

  const split = options.split ?? "all";
  let selected = await selectSplit(split, images, splitNames, lookup, spec, warn);

  if (options.checkImages !== false) {
    const missing = await findMissing(selected.map((image) => image.path));
    if (missing.size > 0) {
      const names = selected
        .filter((image) => missing.has(image.path))
        .map((image) => displayName(image.path, imageRoot));
      if (!options.skipMissing) throw new MissingImagesError(spec, imageRoot, names, selected.length);
      warn(
        `skipped ${names.length} of ${selected.length} images missing under ${imageRoot} (${listSome(names)})`,
      );
      selected = selected.filter((image) => !missing.has(image.path));
      if (selected.length === 0) {
        throw new DatasetError(
          spec,
          undefined,
          `no image of split "${split}" exists under ${imageRoot}: set --images DIR`,
        );
      }
    }
  }
  return { source, format: parsed.format, images: selected, imageRoot, split, splitNames, warnings };
}

async function readDatasetFile(spec: string, source: string): Promise<string> {
  await checkDatasetFile(spec);
  return readFile(source, "utf8");
}

/** Rejects with the loader's DatasetError when `spec` is not a file (missing, or a folder). */
export async function checkDatasetFile(spec: string): Promise<void> {
  const source = path.resolve(spec);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(source);
  } catch {
    throw new DatasetError(spec, undefined, "dataset file not found: give the path of a captions file");
  }
  if (info.isDirectory()) {
    throw new DatasetError(
      spec,
      undefined,
      "is a folder: give the dataset file itself (captions.tsv, a Flickr token file, COCO or Karpathy JSON, JSONL)",
    );
  }
}

function toImage(raw: RawImage, imageRoot: string): CaptionedImage {
  const image: CaptionedImage = {
    id: raw.id,
    path: path.resolve(imageRoot, raw.file),
    captions: raw.captions,
  };
  if (raw.split !== undefined) image.split = raw.split;
  return image;
}

/** Tags the images a `splits/<name>.txt` list names; an image listed by two splits keeps the first. */
async function assignSplit(name: string, listFile: string, lookup: ImageLookup, warn: (m: string) => void) {
  const { found, unknown } = lookup.resolve(await readSplitList(listFile));
  if (unknown.length > 0) warn(unknownNamesWarning(listFile, unknown));
  let clashes = 0;
  for (const image of found) {
    if (image.split === undefined) image.split = name;
    else clashes += 1;
  }
  if (clashes > 0) warn(`${listFile}: ${clashes} images are already in another split and stay there`);
}

async function selectSplit(
  split: string,
  images: CaptionedImage[],
  splitNames: readonly string[],
  lookup: ImageLookup,
  spec: string,
  warn: (message: string) => void,
): Promise<CaptionedImage[]> {
  if (split === "all") return images;
  let selected: CaptionedImage[];
  if (await isFile(split)) {
    const { found, unknown } = lookup.resolve(await readSplitList(split));
    if (unknown.length > 0) warn(unknownNamesWarning(split, unknown));
    selected = images.filter((image) => found.has(image));
  } else if (/[/\\]|\.txt$/.test(split)) {
    throw new DatasetError(
      split,
      undefined,
      "split list not found: give an existing file, a split name, or all",
    );
  } else {
    const wanted = split.split(",").map((name) => name.trim());
    const unknownNames = wanted.filter((name) => !splitNames.includes(name));
    if (unknownNames.length > 0) {
      const known = splitNames.length > 0 ? `known splits: ${splitNames.join(", ")}` : "it has no splits";
      throw new DatasetError(
        spec,
        undefined,
        `unknown split "${unknownNames.join(",")}" (${known}); use --split all, a split name, or a split-list file path`,
      );
    }
    selected = images.filter((image) => image.split !== undefined && wanted.includes(image.split));
  }
  if (selected.length === 0) throw new DatasetError(spec, undefined, `split "${split}" selects no image`);
  return selected;
}

/** The image as the dataset names it: relative to the image folder when inside it. */
function displayName(imagePath: string, imageRoot: string): string {
  const relative = path.relative(imageRoot, imagePath);
  return relative.startsWith("..") || path.isAbsolute(relative) ? imagePath : relative;
}
