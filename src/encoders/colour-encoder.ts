import { UNIT_RANGE } from "../image/normalization.js";
import type { EncodedBatch, Encoder, Normalization } from "./types.js";

/**
 * Basic colour terms as Flickr8k captions use them ("a black dog", "a man in a red shirt"), each with
 * a typical sRGB value. The CNN encoders here are detectors trained to be colour-blind (COCO boxes
 * do not depend on a shirt's colour): with them alone, 61% of the colour words a decoder wrote on
 * Flickr8k val appeared in none of the image's five references (docs/results/training.md).
 */
export const COLOUR_TERMS: ReadonlyArray<{ name: string; rgb: readonly [number, number, number] }> = [
  { name: "black", rgb: [26, 26, 26] },
  { name: "white", rgb: [240, 240, 240] },
  { name: "gray", rgb: [128, 128, 128] },
  { name: "brown", rgb: [120, 80, 50] },
  { name: "tan", rgb: [210, 180, 140] },
  { name: "red", rgb: [192, 40, 45] },
  { name: "orange", rgb: [232, 129, 30] },
  { name: "yellow", rgb: [240, 215, 50] },
  { name: "green", rgb: [60, 150, 60] },
  { name: "blue", rgb: [40, 80, 180] },
  { name: "purple", rgb: [120, 60, 150] },
  { name: "pink", rgb: [240, 140, 180] },
];

/** Per cell: mean CIELab (L/100, a/100, b/100), then the share of pixels nearest each colour term. */
export const COLOUR_CHANNELS = 3 + COLOUR_TERMS.length;
/** Lab distance at which a pixel's membership in a colour term has fallen to exp(-1/2). */
const MEMBERSHIP_SIGMA = 15;
/** RGB quantisation of the lookup table: 32 levels per channel (8-unit steps, below what names resolve). */
const LEVELS = 32;

function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** sRGB in 0..1 to CIELab (D65 white), the space where distance follows perceived colour difference. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const [lr, lg, lb] = [srgbToLinear(r), srgbToLinear(g), srgbToLinear(b)];
  const x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047;
  const y = 0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb;
  const z = (0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = [f(x), f(y), f(z)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** Descriptor of one pixel colour: scaled Lab then soft memberships in the colour terms (summing to 1). */
export function colourDescriptor(r: number, g: number, b: number): Float32Array {
  const out = new Float32Array(COLOUR_CHANNELS);
  const [l, a, bb] = srgbToLab(r, g, b);
  out[0] = l / 100;
  out[1] = a / 100;
  out[2] = bb / 100;
  let total = 0;
  COLOUR_TERMS.forEach((term, k) => {
    const [pl, pa, pb] = srgbToLab(term.rgb[0] / 255, term.rgb[1] / 255, term.rgb[2] / 255);
    const d2 = (l - pl) ** 2 + (a - pa) ** 2 + (bb - pb) ** 2;
    const w = Math.exp(-d2 / (2 * MEMBERSHIP_SIGMA ** 2)) + 1e-12;
    out[3 + k] = w;
    total += w;
  });
  for (let k = 3; k < COLOUR_CHANNELS; k++) out[k]! /= total;
  return out;
}

let table: Float32Array | undefined;
/** Descriptors of every quantised RGB colour, so a pixel costs one lookup instead of 13 Lab distances. */
function descriptorTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(LEVELS ** 3 * COLOUR_CHANNELS);
  const centre = (q: number) => (q + 0.5) / LEVELS;
  for (let r = 0; r < LEVELS; r++)
    for (let g = 0; g < LEVELS; g++)
      for (let b = 0; b < LEVELS; b++)
        table.set(
          colourDescriptor(centre(r), centre(g), centre(b)),
          ((r * LEVELS + g) * LEVELS + b) * COLOUR_CHANNELS,
        );
  return table;
}

function quantise(v: number): number {
  return Math.min(LEVELS - 1, Math.max(0, Math.floor(v * LEVELS)));
}

/**
 * Colour statistics of each cell of a grid: no weights, just pixels. Joined to a CNN encoder
 * (`centernet_448+colour_448`), it gives the decoder the colours the CNN features do not keep.
 * Input pixels are value = pixel / 255 (mean 0, std 1), so the join renormalises the CNN's input for it.
 */
export class ColourEncoder implements Encoder {
  readonly name: string;
  readonly normalization: Normalization = UNIT_RANGE;
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize = COLOUR_CHANNELS;

  constructor(
    readonly inputSize: number,
    gridSide = 7,
  ) {
    if (inputSize % gridSide !== 0)
      throw new Error(`colour grid ${gridSide} does not divide input ${inputSize}`);
    this.name = `colour_${inputSize}`;
    this.gridShape = [gridSide, gridSide, COLOUR_CHANNELS];
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const lookup = descriptorTable();
    const size = this.inputSize;
    const [side] = this.gridShape;
    const cell = size / side;
    const regions = side * side;
    const grid = new Float32Array(count * regions * COLOUR_CHANNELS);
    const pooled = new Float32Array(count * COLOUR_CHANNELS);
    const perCell = 1 / (cell * cell);
    for (let n = 0; n < count; n++) {
      for (let y = 0; y < size; y++) {
        const rowBase = (n * regions + Math.floor(y / cell) * side) * COLOUR_CHANNELS;
        for (let x = 0; x < size; x++) {
          const p = ((n * size + y) * size + x) * 3;
          const index =
            (quantise(images[p]!) * LEVELS + quantise(images[p + 1]!)) * LEVELS + quantise(images[p + 2]!);
          const src = index * COLOUR_CHANNELS;
          const dst = rowBase + Math.floor(x / cell) * COLOUR_CHANNELS;
          for (let c = 0; c < COLOUR_CHANNELS; c++) grid[dst + c]! += lookup[src + c]! * perCell;
        }
      }
      // pooled = mean over cells, which equals the mean over pixels since cells are equal
      for (let r = 0; r < regions; r++)
        for (let c = 0; c < COLOUR_CHANNELS; c++)
          pooled[n * COLOUR_CHANNELS + c]! += grid[(n * regions + r) * COLOUR_CHANNELS + c]! / regions;
    }
    return { grid, pooled, count };
  }

  dispose(): void {}
}

/** `colour_<size>`: the input side is in the name so that it can match the encoder it is joined to. */
export function parseColourEncoderName(name: string): number | undefined {
  const match = /^colour_(\d+)$/.exec(name);
  return match ? Number(match[1]) : undefined;
}
