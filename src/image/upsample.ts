import sharp from "sharp";
import { instantiate } from "../core/wasm-asm.js";
import { kernelModuleBytes } from "./upsample-kernels.js";

/*
 * sharp's enlargement, bit for bit, without libvips' per-pixel cost. When both axes grow (e.g. a
 * 224-pixel Flickr8k photo to CenterNet's 448), sharp's resize is libvips' vips_resize, which for
 * every kernel but nearest and linear (lanczos3 included) runs vips_affine with the bicubic
 * (Catmull-Rom) interpolator: fixed-point weights (4096 = 1) at 1/64-pixel positions, each of 4 rows
 * filtered horizontally and rounded, then the 4 results vertically, rounded and clipped. libvips
 * evaluates that per output pixel (10 ms for 448 x 448); the rows' results do not depend on the output
 * row, so here each source row is filtered once and the columns after (0.7 ms). The geometry below is
 * libvips 8.18's (resize.c, affine.c, bicubic.cpp): `enlargementMatchesSharp` checks it against the
 * installed sharp once, and callers fall back to sharp if a future libvips samples differently.
 */

/** Catmull-Rom weights at the 65 positions 0, 1/64, ..., 1, truncated to 1/4096 as bicubic.cpp does. */
const WEIGHTS = (() => {
  const table = new Int32Array(65 * 4);
  for (let i = 0; i <= 64; i++) {
    const x = i / 64;
    // the same operations in the same order as calculate_coefficients_catmull (templates.h)
    const cr1 = 1 - x;
    const cr2 = -0.5 * x;
    const cr3 = cr1 * cr2;
    const cone = cr1 * cr3;
    const cfou = x * cr3;
    const cr4 = cfou - cone;
    const ctwo = cr1 - cone + cr4;
    const cthr = x - cfou - cr4;
    table.set(
      [cone, ctwo, cthr, cfou].map((c) => Math.trunc(c * 4096)),
      i * 4,
    );
  }
  return table;
})();

/**
 * Per output coordinate along one axis: 4 source indices (edges repeated) and their 4 weights.
 * `step` is the inverse transform's scale; `accumulate` follows affine.c, which adds the step pixel
 * by pixel along a row (x) but multiplies for each row (y), so rounding matches in both.
 */
function axisTaps(inSize: number, outSize: number, step: number, accumulate: boolean) {
  const taps = new Int32Array(outSize * 4);
  const weights = new Int32Array(outSize * 4);
  // vips_resize's input displacement (0.5), less the 1-pixel border vips_affine adds, plus the
  // interpolator's window offset (1): the position in the bordered image, whose pixel 2 is pixel 0.
  const start = -(0.5 - 1) + 1;
  let along = start;
  for (let o = 0; o < outSize; o++) {
    let position = along;
    if (!accumulate) {
      position = step * o;
      position -= 0.5 - 1;
      position += 1;
    }
    // bicubic.cpp: the 1/64 position, rounded to nearest, and the 4 x 4 window from (int) x - 1
    const index = ((Math.trunc(position * 64 * 2) & 127) + 1) >> 1;
    const whole = Math.trunc(position);
    for (let k = 0; k < 4; k++) {
      const source = whole - 1 + k - 2;
      taps[o * 4 + k] = source < 0 ? 0 : source >= inSize ? inSize - 1 : source;
      weights[o * 4 + k] = WEIGHTS[index * 4 + k]!;
    }
    if (accumulate) along += step;
  }
  return { taps, weights };
}

interface Kernels {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  rows(src: number, srcRowBytes: number, height: number, outWidth: number, table: number, mid: number): void;
  columns(mid: number, rowValues: number, outHeight: number, table: number, out: number): void;
  mirror(src: number, width: number, height: number, dst: number): void;
}

let kernels: Kernels | undefined;
function loadKernels(): Kernels {
  if (!kernels) {
    kernels = instantiate<Kernels>(kernelModuleBytes());
  }
  return kernels;
}

const SLACK = 64;
const aligned = (n: number) => Math.ceil((n + SLACK) / 16) * 16;

/** The output pixels, and their mirror image when asked for: views of WebAssembly memory, valid until the next call. */
export interface Enlarged {
  rgb: Uint8Array;
  mirrored?: Uint8Array;
}

/** Largest output side enlargeRgb takes: WebAssembly memory never shrinks, and this caps it near 20 MB. */
export const MAX_ENLARGED_SIDE = 1024;

/**
 * Whether enlargeRgb applies: both sides grow or stay (sharp resizes only when one changes), up to
 * MAX_ENLARGED_SIDE.
 */
export function isEnlargement(width: number, height: number, outWidth: number, outHeight: number): boolean {
  const grows = outWidth >= width && outHeight >= height && (outWidth > width || outHeight > height);
  return grows && Math.max(outWidth, outHeight) <= MAX_ENLARGED_SIDE;
}

/**
 * sharp's `resize(outWidth, outHeight, { fit: "fill" })` of 8-bit RGB pixels [height, width, 3] when
 * isEnlargement holds, optionally with the result's left-right mirror image.
 */
export function enlargeRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  withMirror = false,
): Enlarged {
  if (!isEnlargement(width, height, outWidth, outHeight)) {
    throw new RangeError(`${width}x${height} to ${outWidth}x${outHeight} is not an enlargement`);
  }
  if (src.length !== width * height * 3) throw new RangeError("src is not width x height RGB");
  // sharp: scale = 1 / (in / out); libvips inverts the diagonal matrix through its determinant
  const hscale = 1.0 / (width / outWidth);
  const vscale = 1.0 / (height / outHeight);
  const inverse = 1.0 / (hscale * vscale);
  const cols = axisTaps(width, outWidth, inverse * vscale, true);
  const rows = axisTaps(height, outHeight, inverse * hscale, false);
  const rowValues = outWidth * 3;
  const outBytes = outHeight * rowValues;

  const at = { src: 0, cols: 0, rows: 0, mid: 0, out: 0, mirrored: 0, end: 0 };
  at.cols = aligned(src.length);
  at.rows = at.cols + aligned(outWidth * 32);
  at.mid = at.rows + aligned(outHeight * 32);
  at.out = at.mid + aligned(height * rowValues * 4);
  at.mirrored = at.out + aligned(outBytes);
  at.end = at.mirrored + (withMirror ? aligned(outBytes) : 0);
  const k = loadKernels();
  const missing = at.end - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  const memory = k.memory.buffer;

  new Uint8Array(memory, at.src, src.length).set(src);
  const table = new Int32Array(memory, at.cols, outWidth * 8);
  for (let x = 0; x < outWidth; x++) {
    for (let i = 0; i < 4; i++) {
      table[x * 8 + i] = cols.taps[x * 4 + i]! * 3; // byte offset of the pixel in its row
      table[x * 8 + 4 + i] = cols.weights[x * 4 + i]!;
    }
  }
  const rowTable = new Int32Array(memory, at.rows, outHeight * 8);
  for (let y = 0; y < outHeight; y++) {
    for (let i = 0; i < 4; i++) {
      rowTable[y * 8 + i] = rows.taps[y * 4 + i]! * rowValues * 4; // byte offset of the row in mid
      rowTable[y * 8 + 4 + i] = rows.weights[y * 4 + i]!;
    }
  }
  k.rows(at.src, width * 3, height, outWidth, at.cols, at.mid);
  k.columns(at.mid, rowValues, outHeight, at.rows, at.out);
  const rgb = new Uint8Array(memory, at.out, outBytes);
  if (!withMirror) return { rgb };
  k.mirror(at.out, outWidth, outHeight, at.mirrored);
  return { rgb, mirrored: new Uint8Array(memory, at.mirrored, outBytes) };
}

let agreement: Promise<boolean> | undefined;

/**
 * Whether enlargeRgb gives the installed sharp's pixels: checked once, on noise at a few sizes
 * (integral and fractional scales, one axis unchanged). False sends callers back to sharp.
 */
export function enlargementMatchesSharp(): Promise<boolean> {
  agreement ??= (async () => {
    try {
      for (const [width, height, outWidth, outHeight] of [
        [7, 5, 14, 10],
        [23, 17, 40, 37],
        [9, 12, 9, 31],
      ] as const) {
        const src = new Uint8Array(width * height * 3);
        for (let i = 0; i < src.length; i++) src[i] = Math.imul(i + 1, 2654435761) >>> 24;
        const want = await sharp(src, { raw: { width, height, channels: 3 } })
          .resize(outWidth, outHeight, { fit: "fill" })
          .raw()
          .toBuffer();
        const got = enlargeRgb(src, width, height, outWidth, outHeight).rgb;
        if (Buffer.compare(want, got) !== 0) return false;
      }
      return true;
    } catch {
      return false; // e.g. no WebAssembly SIMD on this platform
    }
  })();
  return agreement;
}
