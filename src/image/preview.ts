import { basename } from "node:path";
import sharp from "sharp";
import { type AugmentConfig, DEFAULT_AUGMENT_CONFIG, sampleAugmentParams } from "./augment.js";
import type { DecodeOptions } from "./decode.js";
import { type Normalization, SIGNED_UNIT_RANGE } from "./normalization.js";
import { type Fit, resizedRgb } from "./preprocess.js";
import { augmentSeed } from "./random.js";

/** Fill for padded areas in the preview: mid-grey, so padding is visible against most photos. */
export const PREVIEW_NORMALIZATION: Normalization = SIGNED_UNIT_RANGE;

export interface AugmentPreviewOptions extends DecodeOptions {
  /** Augmented views to show (the original is added top-left). Default 8, giving a 3 x 3 grid. */
  count?: number;
  /** Run seed; with the same image id, view i here is view i of `features --augment`. Default 0. */
  seed?: number;
  /** Image id the views are derived from. Default: the file name (the id Flickr/TSV datasets use). */
  id?: string;
  config?: AugmentConfig;
  /** Side of each tile in pixels. Default 224. */
  tileSize?: number;
  fit?: Fit;
  /** Decides the padding colour (the encoder's mean colour); default mid-grey. */
  normalization?: Normalization;
}

const GAP = 4;

/**
 * A PNG grid of augmented views of one image, each exactly as preprocessImage would produce it before
 * normalisation, with the unaugmented image top-left. Returns the PNG bytes.
 */
export async function augmentPreview(
  input: string | Uint8Array,
  options: AugmentPreviewOptions = {},
): Promise<{ png: Buffer; columns: number; rows: number }> {
  const count = options.count ?? 8;
  if (!Number.isInteger(count) || count < 1 || count > 99)
    throw new RangeError(`count must be 1-99, got ${count}`);
  const size = options.tileSize ?? 224;
  const seed = options.seed ?? 0;
  const config = options.config ?? DEFAULT_AUGMENT_CONFIG;
  const id = options.id ?? (typeof input === "string" ? basename(input) : "<buffer>");
  const base = {
    size,
    normalization: options.normalization ?? PREVIEW_NORMALIZATION,
    fit: options.fit,
    maxPixels: options.maxPixels,
    allowPartial: options.allowPartial,
  };
  const tiles = [await resizedRgb(input, base)];
  for (let v = 0; v < count; v++) {
    const augment = sampleAugmentParams(config, augmentSeed(seed, id, v));
    tiles.push(await resizedRgb(input, { ...base, augment }));
  }
  const columns = Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / columns);
  const png = await sharp({
    create: {
      width: columns * size + (columns + 1) * GAP,
      height: rows * size + (rows + 1) * GAP,
      channels: 3,
      background: { r: 255, g: 255, b: 255 },
    },
  })
    .composite(
      tiles.map((tile, i) => ({
        input: tile,
        raw: { width: size, height: size, channels: 3 as const },
        left: GAP + (i % columns) * (size + GAP),
        top: GAP + Math.floor(i / columns) * (size + GAP),
      })),
    )
    .png()
    .toBuffer();
  return { png, columns, rows };
}
