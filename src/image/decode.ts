import { readFile } from "node:fs/promises";
import sharp, { type FailOnOptions, type Metadata, type Sharp } from "sharp";
import { BUFFER_NAME, fromSharpError, ImageError } from "./errors.js";
import { DEFAULT_MAX_PIXELS } from "./limits.js";

/** White, because captions describe what a viewer sees and viewers show transparency on white. */
export const ALPHA_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (width x height, from the header). Default 40 MP. */
  maxPixels?: number;
  /** Accept truncated files, decoding what is there (the rest is grey). Default false: code "corrupt". */
  allowPartial?: boolean;
  /** Name of bytes in error messages (e.g. the file they were read from). Default "<buffer>". */
  name?: string;
}

/** Bytes plus the name to put in error messages. */
export interface ImageSource {
  bytes: Uint8Array;
  name: string;
}

/** A header-checked image: safe to decode within the pixel limit. */
export interface ProbedImage extends ImageSource {
  /** Open a fresh sharp pipeline on the bytes with the agreed limits and failure policy. */
  open(): Sharp;
  metadata: Metadata;
  /** Width and height after EXIF orientation. */
  width: number;
  height: number;
}

export async function readSource(input: string | Uint8Array, bufferName = BUFFER_NAME): Promise<ImageSource> {
  if (typeof input !== "string") {
    if (input.byteLength === 0) throw new ImageError("empty", bufferName, "empty input (0 bytes)");
    return { bytes: input, name: bufferName };
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(input);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new ImageError("not_found", input, "file not found");
    if (code === "EISDIR") throw new ImageError("not_an_image", input, "is a directory, not an image file");
    throw new ImageError("not_found", input, `cannot read file (${code ?? String(error)})`, { cause: error });
  }
  if (bytes.byteLength === 0) throw new ImageError("empty", input, "empty file (0 bytes)");
  return { bytes, name: input };
}

/** Container formats we promise to decode; libvips can read more (SVG, PDF, JP2...) but we do not vouch for them. */
function checkFormat(metadata: Metadata, name: string): void {
  const format = metadata.format;
  const ok =
    format === "jpeg" ||
    format === "png" ||
    format === "webp" ||
    format === "gif" ||
    format === "tiff" ||
    (format === "heif" && metadata.compression === "av1");
  if (!ok) {
    const what = format === "heif" ? `heif/${metadata.compression ?? "unknown"}` : (format ?? "unknown");
    throw new ImageError(
      "unsupported",
      name,
      `unsupported image format "${what}" (use JPEG, PNG, WebP, GIF, AVIF or TIFF)`,
    );
  }
}

/** Decoding policy shared by every pipeline on the bytes: the pixel limit and failure tolerance. */
function decodePolicy(options: DecodeOptions): { maxPixels: number; failOn: FailOnOptions } {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new RangeError(`maxPixels must be positive, got ${maxPixels}`);
  // "truncated" fails on premature end of data but tolerates harmless warnings (e.g. extraneous JPEG bytes).
  return { maxPixels, failOn: options.allowPartial ? "none" : "truncated" };
}

/** A sharp pipeline on the bytes with the agreed limits and failure policy (first page only). */
export function openSource(source: ImageSource, options: DecodeOptions = {}): Sharp {
  const { maxPixels, failOn } = decodePolicy(options);
  return sharp(source.bytes, { limitInputPixels: Math.floor(maxPixels), failOn, pages: 1, page: 0 });
}

/**
 * Reads the header only (no pixel decoding), then refuses bombs and unsupported formats. The pixel limit
 * is checked here from the header AND passed to sharp as limitInputPixels, so a header that lies cannot
 * make libvips allocate more.
 */
export async function probeImage(
  input: string | Uint8Array,
  options: DecodeOptions = {},
): Promise<ProbedImage> {
  return probeSource(await readSource(input, options.name), options);
}

/** probeImage on bytes already read. */
export async function probeSource(source: ImageSource, options: DecodeOptions = {}): Promise<ProbedImage> {
  const { maxPixels, failOn } = decodePolicy(options);
  const open = () => openSource(source, options);
  let metadata: Metadata;
  try {
    // The header read allocates no pixels, so it runs without sharp's limit to report the real size.
    metadata = await sharp(source.bytes, { limitInputPixels: false, failOn, pages: 1, page: 0 }).metadata();
  } catch (error) {
    throw fromSharpError(error, source.name);
  }
  checkFormat(metadata, source.name);
  const width = metadata.width ?? 0;
  const height = metadata.pageHeight ?? metadata.height ?? 0;
  if (width <= 0 || height <= 0) throw new ImageError("corrupt", source.name, "image has no pixels");
  if (width * height > maxPixels) {
    // No "how to raise it" here: that is a flag or an option depending on the caller, which adds it.
    throw new ImageError(
      "too_many_pixels",
      source.name,
      `${width}x${height} = ${((width * height) / 1e6).toFixed(1)} megapixels exceeds the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels`,
    );
  }
  // Orientations 5-8 swap the axes.
  const swapped = (metadata.orientation ?? 1) >= 5;
  return {
    ...source,
    open,
    metadata,
    width: swapped ? height : width,
    height: swapped ? width : height,
  };
}

export interface DecodedRgb {
  data: Buffer;
  width: number;
  height: number;
  /** Size before the optional rotation (after orientation and shrinking). */
  unrotated: { width: number; height: number };
}

/**
 * Decodes to 8-bit sRGB, 3 channels, EXIF orientation applied, alpha flattened onto white, for the
 * augmentation path. Shrinks to fit inside `maxSide` first (big photos are not augmented at full size),
 * then optionally rotates by an arbitrary angle, expanding the canvas and filling the corners.
 */
export async function decodeRgb(
  probed: ProbedImage,
  maxSide: number,
  rotation?: { angle: number; background: { r: number; g: number; b: number } },
): Promise<DecodedRgb> {
  // sharp's "inside" rounding; a pixel off here only nudges the zoom window by a pixel.
  const shrink = Math.min(1, maxSide / Math.max(probed.width, probed.height));
  const unrotated = {
    width: Math.max(1, Math.round(probed.width * shrink)),
    height: Math.max(1, Math.round(probed.height * shrink)),
  };
  try {
    let pipeline = probed
      .open()
      .autoOrient()
      .flatten({ background: ALPHA_BACKGROUND })
      .toColourspace("srgb")
      .resize({ width: maxSide, height: maxSide, fit: "inside", withoutEnlargement: true });
    // Called after resize, so sharp rotates the shrunk image (cheaper) rather than the original.
    if (rotation && rotation.angle !== 0)
      pipeline = pipeline.rotate(rotation.angle, { background: rotation.background });
    const { data, info } = await pipeline
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    return {
      data: toRgb(data, info.channels, probed.name),
      width: info.width,
      height: info.height,
      unrotated,
    };
  } catch (error) {
    throw fromSharpError(error, probed.name);
  }
}

/** Grey images can survive toColourspace as 1 or 2 channels; widen them so every caller sees RGB. */
export function toRgb(data: Buffer, channels: number, name: string): Buffer {
  if (channels === 3) return data;
  if (channels !== 1 && channels !== 2) {
    throw new ImageError("unsupported", name, `unexpected channel count ${channels} after decoding`);
  }
  const pixels = data.length / channels;
  const out = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const v = data[i * channels]!;
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return out;
}
