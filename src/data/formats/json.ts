import path from "node:path";
import { z } from "zod";
import type { ParsedDataset, RawImage } from "./raw.js";
import { jsonRecordError, validateJson } from "./validate.js";

const caption = z.string().trim().min(1, "empty caption");
const imageId = z.union([z.number(), z.string().min(1)]);

// Extra keys (license, coco_url, tokens, ...) are allowed and ignored: real files carry many.
const cocoSchema = z.object({
  images: z.array(z.object({ id: imageId, file_name: z.string().min(1) })),
  annotations: z.array(z.object({ image_id: imageId, caption })),
});

const karpathySchema = z.object({
  images: z.array(
    z.object({
      filename: z.string().min(1),
      filepath: z.string().optional(),
      split: z.string().min(1),
      cocoid: z.number().optional(),
      sentences: z.array(z.object({ raw: caption })).min(1, "an image needs at least one sentence"),
    }),
  ),
});

/** Tells COCO captions JSON from Karpathy split JSON by shape; undefined when it is neither. */
export function jsonFormatOf(value: unknown): "coco" | "karpathy" | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record.images)) return undefined;
  if (Array.isArray(record.annotations)) return "coco";
  const first: unknown = record.images[0];
  if (typeof first === "object" && first !== null && "sentences" in first) return "karpathy";
  return undefined;
}

/** MSCOCO caption annotations (`captions_train2014.json` etc.): images by id, one annotation per caption. */
export function parseCoco(value: unknown, text: string, file: string): ParsedDataset {
  const data = validateJson(cocoSchema, value, text, file);
  const byId = new Map<string, RawImage & { index: number }>();
  data.images.forEach((image, index) => {
    const id = String(image.id);
    const earlier = byId.get(id);
    if (earlier) {
      throw jsonRecordError(
        text,
        file,
        ["images", index],
        `duplicate image id ${id} (also images[${earlier.index}])`,
      );
    }
    byId.set(id, { id, file: image.file_name, captions: [], index });
  });
  data.annotations.forEach((annotation, index) => {
    const image = byId.get(String(annotation.image_id));
    if (!image) {
      throw jsonRecordError(
        text,
        file,
        ["annotations", index],
        `image_id ${annotation.image_id} is not in "images"`,
      );
    }
    image.captions.push(annotation.caption);
  });
  const all = [...byId.values()];
  const images = all.filter((image) => image.captions.length > 0).map(({ index: _index, ...image }) => image);
  const warnings =
    images.length < all.length
      ? [`${file}: ${all.length - images.length} images have no caption and were left out`]
      : [];
  // captions_val2014.json sits in annotations/ while its images are in val2014/.
  const stem = /^captions_(.+)\.json$/i.exec(path.basename(file))?.[1];
  return { format: "coco", images, ownSplits: false, folderHints: stem ? [stem] : [], warnings };
}

/** Karpathy's split files (dataset_coco.json, dataset_flickr8k.json, dataset_flickr30k.json). */
export function parseKarpathy(value: unknown, text: string, file: string): ParsedDataset {
  const data = validateJson(karpathySchema, value, text, file);
  const seen = new Map<string, number>();
  const images = data.images.map((image, index): RawImage => {
    // COCO entries keep the COCO id so results line up with COCO annotation files; Flickr ones use the file name.
    const id = image.cocoid === undefined ? image.filename : String(image.cocoid);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      throw jsonRecordError(text, file, ["images", index], `duplicate image ${id} (also images[${earlier}])`);
    }
    seen.set(id, index);
    return {
      id,
      file: image.filepath ? path.join(image.filepath, image.filename) : image.filename,
      captions: image.sentences.map((sentence) => sentence.raw),
      split: image.split,
    };
  });
  return { format: "karpathy", images, ownSplits: true, folderHints: [], warnings: [] };
}
