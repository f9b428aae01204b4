import { z } from "zod";
import { DatasetError } from "../errors.js";
import { formatJsonPath, locateJsonSyntaxError } from "../json-locate.js";
import { textLines } from "./lines.js";
import type { ParsedDataset, RawImage } from "./raw.js";

const lineSchema = z.object({
  image: z.string().trim().min(1, "empty image path"),
  captions: z.array(z.string().trim().min(1, "empty caption")).min(1, "needs at least one caption"),
  split: z.string().min(1).optional(),
});

/** One JSON object per line: {"image": path, "captions": [...], "split"?: name}. */
export function parseJsonl(text: string, file: string): ParsedDataset {
  const images: RawImage[] = [];
  const firstLine = new Map<string, number>();
  textLines(text).forEach((raw, position) => {
    const line = position + 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      const spot = locateJsonSyntaxError(raw);
      throw new DatasetError(
        file,
        line,
        `invalid JSON${spot ? ` at column ${spot.column} (${spot.problem})` : ""}: each line must be one object`,
      );
    }
    const result = lineSchema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const where = formatJsonPath(issue.path);
      throw new DatasetError(
        file,
        line,
        `${where ? `${where}: ` : ""}${issue.message.replace(/^Invalid input: /, "")}`,
      );
    }
    const { image, captions, split } = result.data;
    const earlier = firstLine.get(image);
    if (earlier !== undefined) {
      throw new DatasetError(file, line, `duplicate image ${image} (first on line ${earlier})`);
    }
    firstLine.set(image, line);
    images.push({ id: image, file: image, captions, line, ...(split === undefined ? {} : { split }) });
  });
  const ownSplits = images.some((image) => image.split !== undefined);
  return { format: "jsonl", images, ownSplits, folderHints: [], warnings: [] };
}
