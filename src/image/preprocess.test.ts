import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BLUE,
  encodeImage,
  GREEN,
  greyImage,
  IMAGE_FORMATS,
  quadrantImage,
  RED,
  type Rgb,
  rgbImage,
  solidImage,
  WHITE,
  withAlpha,
  writeGoodImages,
} from "../../test/fixtures/images.js";
import type { Normalization } from "../encoders/types.js";
import {
  imageLength,
  mirrorInto,
  preprocessBatch,
  preprocessImage,
  probeImage,
  resizedRgb,
} from "./index.js";

const IDENTITY: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };
const IMAGENET: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Pixel (x, y) of a [size, size, 3] tensor, converted back to 0-255 under the identity normalisation. */
function pixel(x: Float32Array, size: number, px: number, py: number): number[] {
  const i = (py * size + px) * 3;
  return [x[i]! * 255, x[i + 1]! * 255, x[i + 2]! * 255];
}

function expectColour(actual: number[], expected: Rgb, tolerance: number): void {
  for (let c = 0; c < 3; c++) expect(Math.abs(actual[c]! - expected[c]!)).toBeLessThanOrEqual(tolerance);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "captionkit-image-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("preprocessImage", () => {
  it.each(IMAGE_FORMATS)(
    "decodes %s to [size, size, 3] with the right colours in each quadrant",
    async (format) => {
      const paths = await writeGoodImages(dir);
      const size = 16;
      const x = await preprocessImage(paths[format], { size, normalization: IDENTITY });
      expect(x).toBeInstanceOf(Float32Array);
      expect(x.length).toBe(size * size * 3);
      // GIF is palette-quantised and AVIF/WebP/JPEG are lossy: compare quadrant centres loosely.
      expectColour(pixel(x, size, 4, 4), RED, 40);
      expectColour(pixel(x, size, 12, 4), GREEN, 40);
      expectColour(pixel(x, size, 4, 12), BLUE, 40);
      expectColour(pixel(x, size, 12, 12), WHITE, 40);
    },
  );

  it("normalises as (pixel / 255 - mean) / std", async () => {
    const bytes = await encodeImage(solidImage(8, 8, [200, 100, 50]), "png");
    const x = await preprocessImage(bytes, { size: 4, normalization: IMAGENET });
    const expected = [200, 100, 50].map((p, c) => (p / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!);
    for (let i = 0; i < x.length; i += 3) {
      for (let c = 0; c < 3; c++) expect(x[i + c]).toBeCloseTo(expected[c]!, 5);
    }
  });

  it.each(["jpeg", "png", "webp", "tiff", "avif"] as const)(
    "applies EXIF orientation 6 in %s (rotate 90 degrees clockwise)",
    async (format) => {
      // 40x20 landscape with red top-left; displayed rotated clockwise it is 20x40 with red top-right.
      const bytes = await encodeImage(quadrantImage(40, 20), format, { orientation: 6 });
      const probed = await probeImage(bytes);
      expect([probed.width, probed.height]).toEqual([20, 40]);
      const size = 16;
      const x = await preprocessImage(bytes, { size, normalization: IDENTITY });
      expectColour(pixel(x, size, 12, 4), RED, 40);
      expectColour(pixel(x, size, 4, 4), BLUE, 40);
      expectColour(pixel(x, size, 12, 12), GREEN, 40);
      expectColour(pixel(x, size, 4, 12), WHITE, 40);
    },
  );

  it("widens grayscale to three equal channels", async () => {
    const bytes = await encodeImage(greyImage(10, 10, 77), "png");
    const x = await preprocessImage(bytes, { size: 4, normalization: IDENTITY });
    expect(x.length).toBe(48);
    for (let i = 0; i < x.length; i++) expect(x[i]! * 255).toBeCloseTo(77, 3);
  });

  it("handles 16-bit PNG and CMYK JPEG", async () => {
    const png16 = await sharp(solidImage(6, 6, [255, 0, 0]).data, {
      raw: { width: 6, height: 6, channels: 3 },
    })
      .toColourspace("rgb16")
      .png()
      .toBuffer();
    expectColour(pixel(await preprocessImage(png16, { size: 2, normalization: IDENTITY }), 2, 0, 0), RED, 2);
    const cmyk = await sharp(solidImage(6, 6, [0, 0, 255]).data, {
      raw: { width: 6, height: 6, channels: 3 },
    })
      .toColourspace("cmyk")
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    // Pure sRGB blue is outside the CMYK gamut (it comes back about 28,60,139): check it is clearly blue.
    const [r, g, b] = pixel(await preprocessImage(cmyk, { size: 2, normalization: IDENTITY }), 2, 0, 0);
    expect(b! - Math.max(r!, g!)).toBeGreaterThan(60);
  });

  it("flattens transparency onto white", async () => {
    const transparent = await encodeImage(withAlpha(solidImage(8, 8, [0, 0, 0]), 0), "png");
    expectColour(
      pixel(await preprocessImage(transparent, { size: 2, normalization: IDENTITY }), 2, 1, 1),
      WHITE,
      1,
    );
    const half = await encodeImage(withAlpha(solidImage(8, 8, [0, 0, 0]), 128), "png");
    expectColour(
      pixel(await preprocessImage(half, { size: 2, normalization: IDENTITY }), 2, 1, 1),
      [127, 127, 127],
      2,
    );
  });

  it("fill squashes the whole image, cover crops the centre", async () => {
    // 60x20: left third red, middle green, right third blue.
    const bands = await encodeImage({ ...solidImage(60, 20, RED), data: bandsData(60, 20) }, "png");
    const size = 12;
    const fill = await preprocessImage(bands, { size, normalization: IDENTITY, fit: "fill" });
    // Lanczos rings a little next to the band edges, hence the tolerance.
    expectColour(pixel(fill, size, 1, 6), RED, 16);
    expectColour(pixel(fill, size, 10, 6), BLUE, 16);
    const cover = await preprocessImage(bands, { size, normalization: IDENTITY, fit: "cover" });
    expectColour(pixel(cover, size, 1, 6), GREEN, 16);
    expectColour(pixel(cover, size, 10, 6), GREEN, 16);
  });

  it("reads a GIF's first frame only", async () => {
    const frames = Buffer.concat([solidImage(8, 8, RED).data, solidImage(8, 8, BLUE).data]);
    const gif = await sharp(frames, { raw: { width: 8, height: 16, channels: 3, pageHeight: 8 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const x = await preprocessImage(gif, { size: 4, normalization: IDENTITY });
    expectColour(pixel(x, 4, 2, 3), RED, 10);
  });
});

function bandsData(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = x < width / 3 ? RED : x < (2 * width) / 3 ? GREEN : BLUE;
      data.set(colour, (y * width + x) * 3);
    }
  }
  return data;
}

describe("preprocessBatch", () => {
  it("fills one array, records errors per image and zeroes failed slots", async () => {
    const red = await encodeImage(solidImage(8, 8, RED), "png");
    const blue = await encodeImage(solidImage(8, 8, BLUE), "jpeg");
    const size = 4;
    const batch = await preprocessBatch([red, Buffer.from("nope"), blue], { size, normalization: IDENTITY });
    expect(batch.count).toBe(3);
    expect(batch.data.length).toBe(3 * imageLength(size));
    expect(batch.errors[0]).toBeUndefined();
    expect(batch.errors[1]?.code).toBe("not_an_image");
    expect(batch.errors[2]).toBeUndefined();
    const per = imageLength(size);
    const single = await preprocessImage(blue, { size, normalization: IDENTITY });
    expect(batch.data.subarray(2 * per, 3 * per)).toEqual(single);
    expect(batch.data.subarray(per, 2 * per).every((v) => v === 0)).toBe(true);
    expectColour(pixel(batch.data.subarray(0, per), size, 1, 1), RED, 1);
  });

  it("mirrorInto gives the preprocessed mirror image", async () => {
    const quadrants = await encodeImage(quadrantImage(40, 30), "png");
    const mirrored = await sharp(quadrants).flop().png().toBuffer();
    const size = 16;
    const plain = await preprocessImage(quadrants, { size, normalization: IDENTITY });
    const expected = await preprocessImage(mirrored, { size, normalization: IDENTITY });
    const out = new Float32Array(imageLength(size));
    mirrorInto(plain, 1, size, out);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(expected[i]!, 2);
    expect(pixel(out, size, 0, 0)).toEqual(pixel(plain, size, size - 1, 0));
    const back = new Float32Array(out.length);
    mirrorInto(out, 1, size, back);
    expect(Array.from(back)).toEqual(Array.from(plain));
  });

  it("resizedRgb and preprocessImage agree (one code path)", async () => {
    const bytes = await encodeImage(quadrantImage(30, 30), "webp");
    const rgb = await resizedRgb(bytes, { size: 8, normalization: IDENTITY });
    const x = await preprocessImage(bytes, { size: 8, normalization: IDENTITY });
    expect(Array.from(x, (v) => Math.round(v * 255))).toEqual(Array.from(rgb));
  });
});

describe("the same photo saved another way preprocesses to the same pixels", () => {
  // smooth, muted colours (inside the CMYK gamut) with some detail for the resampling to act on
  const photo = rgbImage(40, 30, (x, y) => [
    90 + ((x * 7 + y * 3) % 60),
    110 + Math.round(40 * Math.sin(x / 3)),
    100 + ((x * y) % 50),
  ]);
  const meanDifference = async (a: Uint8Array, b: Uint8Array, size: number, fit: "fill" | "cover") => {
    const [x, y] = await Promise.all(
      [a, b].map((bytes) => preprocessImage(bytes, { size, normalization: IDENTITY, fit })),
    );
    let sum = 0;
    for (let i = 0; i < x!.length; i++) sum += Math.abs(x![i]! - y![i]!);
    return sum / x!.length;
  };

  it.each([
    [64, "fill"],
    [64, "cover"],
    [16, "fill"],
  ] as const)("stored sideways with EXIF orientation 6, at %i (%s)", async (size, fit) => {
    const original = await encodeImage(photo, "png");
    // the pixels turned 90 degrees counter-clockwise; the tag tells viewers to turn them back
    const sideways = await sharp(original).rotate(-90).withMetadata({ orientation: 6 }).png().toBuffer();
    expect((await sharp(sideways).metadata()).orientation).toBe(6);
    // sharp turns after resizing unless told otherwise, which gave up to 0.44 of full scale apart
    expect(await meanDifference(original, sideways, size, fit)).toBeLessThan(1e-6);
  });

  it("as a CMYK TIFF (colour converted back to sRGB)", async () => {
    const original = await encodeImage(photo, "png");
    const cmyk = await sharp(original).toColourspace("cmyk").tiff().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    // libvips' CMYK round trip itself moves colours by about 2% (perceptual intent): allow for that
    expect(await meanDifference(original, cmyk, 32, "fill")).toBeLessThan(0.03);
  });

  it("with an opaque alpha channel", async () => {
    const original = await encodeImage(photo, "png");
    const withOpaqueAlpha = await encodeImage(withAlpha(photo, 255), "png");
    expect((await sharp(withOpaqueAlpha).metadata()).channels).toBe(4);
    expect(await meanDifference(original, withOpaqueAlpha, 32, "fill")).toBe(0);
  });
});
