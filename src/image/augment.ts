import sharp from "sharp";
import { z } from "zod";
import { mulberry32 } from "../core/rng.js";
import { fromSharpError } from "./errors.js";
import type { Normalization } from "./normalization.js";

/**
 * Training-time augmentation. Every knob has a default that keeps the caption true: small rotations,
 * mild zoom, crops that keep most of the picture (a crop can cut the "dog" out of "a dog on a beach",
 * so the default keeps at least 85% of each side), and gentle colour changes (colours are named in
 * captions: "a man in a red shirt").
 */
export const augmentConfigSchema = z
  .object({
    /** Maximum absolute rotation in degrees; the angle is uniform in [-rotation, rotation]. */
    rotation: z.number().min(0).max(180).default(10),
    /** Zoom factor range: >1 zooms in (centre crop), <1 zooms out (pads with the mean colour). */
    scale: z
      .tuple([z.number().positive(), z.number().positive()])
      .default([0.9, 1.1])
      .refine(([lo, hi]) => lo <= hi, "scale: min must be <= max"),
    /** Probability of a horizontal mirror. Captions rarely say "left"/"right"; set 0 if yours do. */
    flip: z.number().min(0).max(1).default(0.5),
    /** Smallest fraction of each side a random crop keeps (1 = no crop). Position is uniform. */
    crop: z.number().gt(0).max(1).default(0.85),
    /** Brightness factor uniform in [1 - b, 1 + b]. */
    brightness: z.number().min(0).max(1).default(0.2),
    /** Contrast factor uniform in [1 - c, 1 + c], around mid-grey (128). */
    contrast: z.number().min(0).max(1).default(0.2),
    /** Saturation factor uniform in [1 - s, 1 + s]. */
    saturation: z.number().min(0).max(1).default(0.2),
  })
  .strict();

export type AugmentConfig = z.output<typeof augmentConfigSchema>;
export type AugmentConfigInput = z.input<typeof augmentConfigSchema>;

/** Validates a (partial) config, filling defaults; unknown keys and bad ranges throw with the path. */
export function parseAugmentConfig(input: unknown = {}): AugmentConfig {
  const result = augmentConfigSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid augmentation config: ${issues.join("; ")}`);
  }
  return result.data;
}

export const DEFAULT_AUGMENT_CONFIG: AugmentConfig = parseAugmentConfig({});

export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

const raw = (image: RawRgb) => ({ raw: { width: image.width, height: image.height, channels: 3 as const } });

/** One concrete view: everything random already decided, so applying it is deterministic. */
export interface AugmentParams {
  /** Degrees, positive = clockwise. */
  angle: number;
  /** Zoom factor (>1 zooms in). */
  scale: number;
  flip: boolean;
  /** Fraction of each side kept by the crop, and where the crop sits: 0 = left/top, 1 = right/bottom. */
  crop: { side: number; x: number; y: number };
  brightness: number;
  contrast: number;
  saturation: number;
}

/** The identity view (useful as view 0 or to test that augmentation with no effect changes nothing). */
export const IDENTITY_AUGMENT: AugmentParams = {
  angle: 0,
  scale: 1,
  flip: false,
  crop: { side: 1, x: 0.5, y: 0.5 },
  brightness: 1,
  contrast: 1,
  saturation: 1,
};

/**
 * Draws one view's parameters. Pure: same (config, seed) -> same params. Every value is drawn in a fixed
 * order even when its knob is off, so turning one knob off does not reshuffle the others.
 */
export function sampleAugmentParams(config: AugmentConfig, seed: number): AugmentParams {
  const random = mulberry32(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const angle = uniform(-config.rotation, config.rotation);
  const scale = uniform(config.scale[0], config.scale[1]);
  const flip = random() < config.flip;
  const side = uniform(config.crop, 1);
  const x = random();
  const y = random();
  const brightness = uniform(1 - config.brightness, 1 + config.brightness);
  const contrast = uniform(1 - config.contrast, 1 + config.contrast);
  const saturation = uniform(1 - config.saturation, 1 + config.saturation);
  return { angle, scale, flip, crop: { side, x, y }, brightness, contrast, saturation };
}

/** The colour that normalises to 0 for this encoder: padding then carries no signal. */
export function fillColour(normalization: Normalization): { r: number; g: number; b: number } {
  const [r, g, b] = normalization.mean.map((m) => Math.round(Math.min(1, Math.max(0, m)) * 255));
  return { r: r!, g: g!, b: b! };
}

/** Side to pre-shrink a decoded photo to before augmenting: enough resolution for the zoomed window. */
export function augmentWorkingSide(size: number, params: AugmentParams): number {
  return Math.ceil((2 * size * Math.max(1, params.scale)) / params.crop.side);
}

// Rec. 601 luma, as torchvision's saturation jitter uses.
const LUMA = [0.299, 0.587, 0.114] as const;

/** Saturation as a colour matrix: a blend of each pixel with its grey value (rows sum to 1). */
function saturationMatrix(
  s: number,
): [[number, number, number], [number, number, number], [number, number, number]] {
  const row = (c: number) => LUMA.map((w, k) => (1 - s) * w + (k === c ? s : 0)) as [number, number, number];
  return [row(0), row(1), row(2)];
}

export interface ViewTarget {
  size: number;
  fit: "fill" | "cover";
  normalization: Normalization;
}

/**
 * Renders one augmented view of a decoded, oriented and (already) rotated image as [size, size, 3] uint8.
 * `width`/`height` are the image's size before rotation, so rotating does not change the zoom.
 *
 * One sharp pipeline: extract the part of the zoom/crop window that lies on the canvas, resize it to its
 * share of the output, mirror, pad the rest with the fill colour, then colour jitter. sharp runs these in
 * its own fixed order (extract, resize, flop, extend, recomb, linear), which is the order wanted here; the
 * left/right padding is swapped when mirroring because flop runs before extend.
 */
export async function renderView(
  canvas: RawRgb,
  unrotated: { width: number; height: number },
  params: AugmentParams,
  target: ViewTarget,
  name: string,
): Promise<Buffer> {
  const { size } = target;
  const zoom = params.scale / params.crop.side;
  let winW = unrotated.width / zoom;
  let winH = unrotated.height / zoom;
  const slackX = (unrotated.width / params.scale) * (1 - params.crop.side);
  const slackY = (unrotated.height / params.scale) * (1 - params.crop.side);
  const centreX = canvas.width / 2 + (params.crop.x - 0.5) * slackX;
  const centreY = canvas.height / 2 + (params.crop.y - 0.5) * slackY;
  if (target.fit === "cover") {
    // The square centre of the window, as a final "cover" resize would keep.
    winW = winH = Math.min(winW, winH);
  }
  const left = centreX - winW / 2;
  const top = centreY - winH / 2;
  // Intersection of the window with the canvas, in canvas pixels.
  const x0 = Math.max(0, Math.round(left));
  const y0 = Math.max(0, Math.round(top));
  const x1 = Math.min(canvas.width, Math.round(left + winW));
  const y1 = Math.min(canvas.height, Math.round(top + winH));
  // Where that intersection lands in the output.
  const place = (a: number, b: number, origin: number, extent: number) => {
    const start = Math.min(size - 1, Math.max(0, Math.round(((a - origin) / extent) * size)));
    const end = Math.max(start + 1, Math.min(size, Math.round(((b - origin) / extent) * size)));
    return { start, length: end - start, after: size - end };
  };
  const px = place(x0, x1, left, winW);
  const py = place(y0, y1, top, winH);
  const background = fillColour(target.normalization);
  try {
    let pipeline = sharp(canvas.data, raw(canvas));
    if (x1 > x0 && y1 > y0) {
      pipeline = pipeline
        .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
        .resize(px.length, py.length, { fit: "fill" });
    } else {
      // The window misses the canvas entirely (only possible with extreme configs): all padding.
      pipeline = sharp({ create: { width: px.length, height: py.length, channels: 3, background } });
    }
    if (params.flip) pipeline = pipeline.flop();
    if (px.start + px.after + py.start + py.after > 0) {
      pipeline = pipeline.extend({
        left: params.flip ? px.after : px.start,
        right: params.flip ? px.start : px.after,
        top: py.start,
        bottom: py.after,
        background,
      });
    }
    if (params.saturation !== 1) pipeline = pipeline.recomb(saturationMatrix(params.saturation));
    if (params.brightness !== 1 || params.contrast !== 1) {
      // Brightness multiplies, contrast stretches around grey 128 (a fixed pivot keeps it one pass).
      pipeline = pipeline.linear(params.brightness * params.contrast, 128 * (1 - params.contrast));
    }
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size || info.height !== size) {
      throw new Error(`augmented view came out ${info.width}x${info.height}x${info.channels}`);
    }
    return data;
  } catch (error) {
    throw fromSharpError(error, name);
  }
}
