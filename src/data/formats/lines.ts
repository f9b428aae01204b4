import { DatasetError } from "../errors.js";
import type { ParsedDataset, RawImage } from "./raw.js";

// Flickr8k/30k token files: "<image>#<n>\t<caption>".
const FLICKR_LINE = /^([^\t]+)#(\d+)\t(.*)$/;
const TSV_HEADER = ["image", "index", "caption"];

/** Splits a text into lines, dropping a byte-order mark and Windows line ends. */
export function textLines(text: string): string[] {
  return text.replace(/^\uFEFF/, "").split(/\r?\n/);
}

/** Whether a line looks like a Flickr token line or a TSV row; used by format detection. */
export function lineFormatOf(line: string): "flickr-token" | "tsv" | undefined {
  if (FLICKR_LINE.test(line)) return "flickr-token";
  if (line.split("\t").length === 3) return "tsv";
  return undefined;
}

/**
 * Reads the Flickr token format or the `image\tindex\tcaption` TSV; both are one caption per line,
 * keyed by image file name and caption index, so they share grouping and duplicate checks.
 */
export function parseCaptionLines(text: string, file: string, format: "flickr-token" | "tsv"): ParsedDataset {
  const byImage = new Map<
    string,
    RawImage & { indexed: { index: number; caption: string; line: number }[] }
  >();
  const lines = textLines(text);
  lines.forEach((raw, position) => {
    const lineNumber = position + 1;
    if (raw.trim() === "") return;
    let image: string;
    let indexText: string;
    let caption: string;
    if (format === "tsv") {
      const fields = raw.split("\t");
      if (lineNumber === 1 && fields.map((field) => field.trim().toLowerCase()).join() === TSV_HEADER.join())
        return;
      if (fields.length !== 3) {
        throw new DatasetError(
          file,
          lineNumber,
          `expected 3 tab-separated fields (image, index, caption), found ${fields.length}`,
        );
      }
      [image, indexText, caption] = fields as [string, string, string];
    } else {
      const match = FLICKR_LINE.exec(raw);
      if (!match) {
        throw new DatasetError(file, lineNumber, 'expected "<image>#<number><TAB><caption>"');
      }
      [, image, indexText, caption] = match as unknown as [string, string, string, string];
    }
    image = image.trim();
    caption = caption.trim();
    if (image === "") throw new DatasetError(file, lineNumber, "missing image file name");
    if (!/^\s*\d+\s*$/.test(indexText)) {
      throw new DatasetError(file, lineNumber, `caption index must be a whole number, got "${indexText}"`);
    }
    if (caption === "") throw new DatasetError(file, lineNumber, `empty caption for ${image}`);
    const index = Number(indexText);
    let entry = byImage.get(image);
    if (!entry) {
      entry = { id: image, file: image, captions: [], line: lineNumber, indexed: [] };
      byImage.set(image, entry);
    }
    // An image has a handful of captions: a scan is cheaper than a global map of 600k "image#n" keys.
    const earlier = entry.indexed.find((other) => other.index === index);
    if (earlier) {
      throw new DatasetError(
        file,
        lineNumber,
        `duplicate caption id ${image}#${index} (first on line ${earlier.line})`,
      );
    }
    entry.indexed.push({ index, caption, line: lineNumber });
  });
  const images = [...byImage.values()].map(({ indexed, ...image }) => ({
    ...image,
    // Captions in index order, whatever order the rows came in.
    captions: indexed.sort((a, b) => a.index - b.index).map((entry) => entry.caption),
  }));
  return { format, images, ownSplits: false, folderHints: [], warnings: [] };
}
