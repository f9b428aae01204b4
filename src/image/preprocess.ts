import sharp, { type Sharp } from "sharp";
import { z } from "zod";
import { type AugmentParams, augmentWorkingSide, fillColour, renderView } from "./augment.js";
import {
  ALPHA_BACKGROUND,
  type DecodeOptions,
  decodeRgb,
  type ImageSource,
  openSource,
  type ProbedImage,
  probeSource,
  readSource,
  toRgb,
} from "./decode.js";
import { fromSharpError, ImageError } from "./errors.js";
import { plainJpegSize } from "./jpeg-header.js";
import { DEFAULT_MAX_PIXELS } from "./limits.js";
import type { Normalization } from "./normalization.js";
import { enlargementMatchesSharp, enlargeRgb, isEnlargement } from "./upsample.js";

/**
 * How the image becomes a square:
 * - "fill" (default) squashes the whole image to size x size, changing the aspect ratio. Nothing the
 *   caption mentions is cut off, and the encoders were run on full images.
 * - "cover" keeps the aspect ratio and crops the centre of the long side.
 */
export type Fit = "fill" | "cover";
export const DEFAULT_FIT: Fit = "fill";

export interface PreprocessOptions extends DecodeOptions {
  /** Square output side in pixels (the encoder's inputSize). */
  size: number;
  normalization: Normalization;
  fit?: Fit;
  /** A concrete augmented view (from sampleAugmentParams); omit for evaluation and serving. */
  augment?: AugmentParams;
}

/**
 * What a model folder records about its input, so training, captioning, serving and search all
 * preprocess identically (model.json `preprocessing`).
 */
export const preprocessSpecSchema = z
  .object({
    size: z.number().int().positive(),
    normalization: z
      .object({
        mean: z.tuple([z.number(), z.number(), z.number()]),
        std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
      })
      .strict(),
    fit: z.enum(["fill", "cover"]).default(DEFAULT_FIT),
  })
  .strict();
export type PreprocessSpec = z.output<typeof preprocessSpecSchema>;

/** Values per image in the output: size * size * 3. */
export function imageLength(size: number): number {
  return size * size * 3;
}

/**
 * Writes the left-right mirror images of `count` preprocessed [size, size, 3] images into `out`.
 * Mirroring after the resize equals resizing the mirror image (the resampling is symmetric), and
 * costs a copy instead of a second decode.
 */
export function mirrorInto(images: Float32Array, count: number, size: number, out: Float32Array): void {
  const row = size * 3;
  for (let start = 0, end = count * size * row; start < end; start += row) {
    // pixel by pixel from both ends of the row: no index arithmetic beyond two counters
    for (let from = start, to = start + row - 3; to >= start; from += 3, to -= 3) {
      out[to] = images[from] as number;
      out[to + 1] = images[from + 1] as number;
      out[to + 2] = images[from + 2] as number;
    }
  }
}

/**
 * Decodes, orients, flattens, resizes and normalises one image.
 * Returns [size, size, 3] NHWC RGB float32 with value = (pixel / 255 - mean[c]) / std[c].
 * Throws ImageError (never anything else for bad input) naming the file or "<buffer>".
 *
 * @example
 * const x = await preprocessImage("dog.jpg", { size: 224, normalization: encoder.normalization });
 */
export async function preprocessImage(
  input: string | Uint8Array,
  options: PreprocessOptions,
): Promise<Float32Array> {
  const out = new Float32Array(imageLength(options.size));
  await preprocessInto(input, options, out, 0);
  return out;
}

/**
 * Same as preprocessImage, writing into `out` at element `offset` (so a batch needs one allocation), and
 * its left-right mirror image at `mirrorOffset` when given (as mirrorInto would, for less work).
 */
export async function preprocessInto(
  input: string | Uint8Array,
  options: PreprocessOptions,
  out: Float32Array,
  offset: number,
  mirrorOffset?: number,
): Promise<void> {
  const { size } = options;
  if (!Number.isInteger(size) || size <= 0)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  const per = imageLength(size);
  for (const at of mirrorOffset === undefined ? [offset] : [offset, mirrorOffset]) {
    if (at < 0 || at + per > out.length) {
      throw new RangeError(`output too small: need ${per} values at offset ${at}`);
    }
  }
  const prepared = await prepare(await readSource(input, options.name), options);
  if ("pixels" in prepared) {
    // enlargeRgb's results are views of memory its next call reuses: consumed here, before any await
    const { pixels, width, height } = prepared;
    const { rgb, mirrored } = enlargeRgb(pixels, width, height, size, size, mirrorOffset !== undefined);
    normalizeInto(rgb, options.normalization, out, offset);
    if (mirrored && mirrorOffset !== undefined)
      normalizeInto(mirrored, options.normalization, out, mirrorOffset);
    return;
  }
  normalizeInto(await sharpResized(prepared.probed, options), options.normalization, out, offset);
  if (mirrorOffset !== undefined)
    mirrorInto(out.subarray(offset, offset + per), 1, size, out.subarray(mirrorOffset));
}

/** The 8-bit RGB pixels ([size, size, 3]) preprocessImage normalises; exported for previews and tests. */
export async function resizedRgb(input: string | Uint8Array, options: PreprocessOptions): Promise<Buffer> {
  const prepared = await prepare(await readSource(input, options.name), options);
  if (!("pixels" in prepared)) return sharpResized(prepared.probed, options);
  const { pixels, width, height } = prepared;
  return Buffer.from(enlargeRgb(pixels, width, height, options.size, options.size).rgb);
}

/**
 * Decoded pixels when the preprocessing is an enlargement enlargeRgb reproduces, else the probed image
 * for sharp to do all of it (as every image once was). The fast path needs: no augmentation, fit "fill",
 * no side shrinking, and pixels that sharp's pipeline resizes as decoded: 8-bit RGB, sRGB, no alpha,
 * no colour profile, no EXIF orientation (its flatten, colour conversion and removeAlpha are no-ops),
 * one page. A plain JPEG shows that in its markers; anything else is asked of sharp's metadata.
 */
async function prepare(
  source: ImageSource,
  options: PreprocessOptions,
): Promise<{ pixels: Buffer; width: number; height: number } | { probed: ProbedImage }> {
  const eligible = options.augment === undefined && (options.fit ?? DEFAULT_FIT) === "fill";
  let probed: ProbedImage | undefined;
  let found = eligible ? plainJpegSize(source.bytes) : undefined;
  if (found && found.width * found.height > (options.maxPixels ?? DEFAULT_MAX_PIXELS)) found = undefined;
  if (eligible && !found) {
    probed = await probeSource(source, options);
    const m = probed.metadata;
    const plain =
      m.channels === 3 &&
      !m.hasAlpha &&
      m.depth === "uchar" &&
      m.space === "srgb" &&
      m.icc === undefined &&
      (m.orientation ?? 1) <= 1 &&
      (m.pages ?? 1) === 1;
    if (plain) found = { width: probed.width, height: probed.height };
  }
  if (found && isEnlargement(found.width, found.height, options.size, options.size)) {
    if (await enlargementMatchesSharp()) {
      try {
        const decoded = openSource(source, options).raw({ depth: "uchar" });
        const { data, info } = await decoded.toBuffer({ resolveWithObject: true });
        if (info.channels === 3 && info.width === found.width && info.height === found.height)
          return { pixels: data, ...found };
      } catch {
        // the sharp path below meets the same failure and reports it as it always has
      }
    }
  }
  return { probed: probed ?? (await probeSource(source, options)) };
}

/** The whole preprocessing in sharp: decode, orient, flatten, resize (or augment). */
async function sharpResized(probed: ProbedImage, options: PreprocessOptions): Promise<Buffer> {
  const { size } = options;
  const fit = options.fit ?? DEFAULT_FIT;
  const name = probed.name;
  let rgb: Buffer;
  if (options.augment === undefined) {
    try {
      const { data, info } = await (await orientedInput(probed))
        .flatten({ background: ALPHA_BACKGROUND })
        .toColourspace("srgb")
        .resize(size, size, { fit, position: "centre" })
        .removeAlpha()
        .raw({ depth: "uchar" })
        .toBuffer({ resolveWithObject: true });
      rgb = toRgb(data, info.channels, name);
    } catch (error) {
      throw fromSharpError(error, name);
    }
  } else {
    const params = options.augment;
    const background = fillColour(options.normalization);
    const decoded = await decodeRgb(probed, augmentWorkingSide(size, params), {
      angle: params.angle,
      background,
    });
    rgb = await renderView(
      decoded,
      decoded.unrotated,
      params,
      { size, fit, normalization: options.normalization },
      name,
    );
  }
  if (rgb.length !== imageLength(size)) {
    throw new ImageError("corrupt", name, `decoded to ${rgb.length} bytes, expected ${imageLength(size)}`);
  }
  return rgb;
}

/**
 * A sharp pipeline whose pixels are upright. sharp applies the EXIF rotation after resizing (cheaper),
 * and its resampling does not commute with a 90-degree turn: a photo stored sideways with an
 * orientation tag came out up to 44% of full scale different from the same photo stored upright
 * (docs/image.md). So a tagged image is decoded and turned first, then resized as raw pixels; an
 * untagged one (orientation 1 or none) keeps the one-pass pipeline and its JPEG shrink-on-load.
 */
async function orientedInput(probed: ProbedImage): Promise<Sharp> {
  if ((probed.metadata.orientation ?? 1) <= 1) return probed.open();
  // colour is converted here too: raw pixels carry no ICC profile into the second pipeline
  const { data, info } = await probed
    .open()
    .autoOrient()
    .flatten({ background: ALPHA_BACKGROUND })
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

/** value = (pixel / 255 - mean[c]) / std[c]; the only place these constants are applied. */
export function normalizeInto(
  rgb: Uint8Array,
  normalization: Normalization,
  out: Float32Array,
  offset: number,
): void {
  // A byte has 256 values, so the 768 results are computed once (in double precision, rounded to
  // float32 as the output is) and looked up: the same bits as computing each value, in less time.
  const { mean, std } = normalization;
  const table = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * std[c]!);
    const shift = mean[c]! / std[c]!;
    for (let v = 0; v < 256; v++) table[c * 256 + v] = v * scale - shift;
  }
  // Pixel values unchanged (CenterNet's 0-255 input): the typed-array conversion, 40x faster
  // (Object.is: a -0 in the table would be a different bit pattern from the conversion's 0)
  if (table.every((value, i) => Object.is(value, i % 256))) {
    out.set(rgb, offset);
    return;
  }
  for (let i = 0, o = offset; i < rgb.length; i += 3, o += 3) {
    out[o] = table[rgb[i]!] as number;
    out[o + 1] = table[256 + rgb[i + 1]!] as number;
    out[o + 2] = table[512 + rgb[i + 2]!] as number;
  }
}

export interface PreprocessedBatch {
  /**
   * [count, size, size, 3] NHWC float32, then as many mirror images with BatchOptions.mirror. Slots of
   * failed images are left at 0 (the mean colour).
   */
  data: Float32Array;
  count: number;
  /** errors[i] is set when image i failed; the others are undefined. */
  errors: (ImageError | undefined)[];
}

export interface BatchOptions extends Omit<PreprocessOptions, "augment"> {
  /** Per-image augmentation (same length as inputs); undefined entries are not augmented. */
  augment?: readonly (AugmentParams | undefined)[];
  /** Images decoded at once (sharp also uses its own thread pool per image). Default 4. */
  concurrency?: number;
  /**
   * Write into this array (image i at i * imageLength(size); it may be longer, e.g. with room for the
   * mirror images) instead of a new one, which is then `data`. A large new array costs page faults on
   * first write, a few ms per 448-pixel image: preprocess straight into the encoder's input.
   */
  out?: Float32Array;
  /**
   * Also write each image's left-right mirror image, image i's at (count + i) * imageLength(size):
   * [images | mirror images], what a mirroring captioner encodes. Same values as mirrorInto, for less work.
   */
  mirror?: boolean;
}

/**
 * Preprocesses N images into one Float32Array. A bad image does not stop the batch: its error is
 * returned in `errors` and its slot is zeroed, so callers can report it and skip that row.
 */
export async function preprocessBatch(
  inputs: readonly (string | Uint8Array)[],
  options: BatchOptions,
): Promise<PreprocessedBatch> {
  const per = imageLength(options.size);
  const { augment, concurrency = 4, out, mirror = false, ...single } = options;
  const count = inputs.length;
  const values = per * count * (mirror ? 2 : 1);
  if (out && out.length < values)
    throw new RangeError(
      `out holds ${out.length} values, ${count} images${mirror ? " and mirrors" : ""} need ${values}`,
    );
  const data = out ?? new Float32Array(values);
  const errors: (ImageError | undefined)[] = new Array(inputs.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < inputs.length; i = next++) {
      try {
        const mirrorAt = mirror ? (count + i) * per : undefined;
        await preprocessInto(inputs[i]!, { ...single, augment: augment?.[i] }, data, i * per, mirrorAt);
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        errors[i] = error;
        if (out) data.fill(0, i * per, (i + 1) * per);
        if (out && mirror) data.fill(0, (count + i) * per, (count + i + 1) * per);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, inputs.length)) }, worker));
  return { data, count, errors };
}
