import sharp from "sharp";
import { describe, expect, it, vi } from "vitest";
import {
  encodeImage,
  greyImage,
  noiseImage,
  rgbImage,
  truncatedJpeg,
  withAlpha,
} from "../../test/fixtures/images.js";
import { fromSharpError } from "./errors.js";
import { imageLength, mirrorInto, type PreprocessSpec, preprocessBatch } from "./preprocess.js";
import { enlargeRgb } from "./upsample.js";

// counts the images that took the WebAssembly enlargement instead of sharp's resize
vi.mock("./upsample.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("./upsample.js")>();
  return { ...actual, enlargeRgb: vi.fn(actual.enlargeRgb) };
});

/*
 * The preprocessing as it was before it was made faster (commit 226792c): one sharp pipeline, or two
 * for an EXIF-rotated image, then normalisation computed value by value and the mirror copied pixel
 * by pixel into a separate array. The fast paths (since then: typed-array normalisation, and for
 * enlargements the JPEG header read in JS and the resize in WebAssembly) must give the same bits.
 */
async function reference(bytes: Uint8Array, spec: PreprocessSpec, partial = false): Promise<Float32Array> {
  const white = { r: 255, g: 255, b: 255 };
  const failOn = partial ? "none" : "truncated";
  const open = () => sharp(bytes, { limitInputPixels: 40_000_000, failOn, pages: 1, page: 0 });
  const { orientation = 1 } = await open().metadata();
  let input = open();
  if (orientation > 1) {
    const { data, info } = await open()
      .autoOrient()
      .flatten({ background: white })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    input = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  }
  const { data, info } = await input
    .flatten({ background: white })
    .toColourspace("srgb")
    .resize(spec.size, spec.size, { fit: spec.fit, position: "centre" })
    .removeAlpha()
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const rgb = Buffer.alloc(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * info.channels + (info.channels < 3 ? 0 : c)]!;
  const per = imageLength(spec.size);
  const out = new Float32Array(2 * per);
  const { mean, std } = spec.normalization;
  const scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])];
  const shift = [mean[0] / std[0], mean[1] / std[1], mean[2] / std[2]];
  for (let i = 0; i < per; i += 3)
    for (let c = 0; c < 3; c++) out[i + c] = rgb[i + c]! * scale[c]! - shift[c]!;
  const row = spec.size * 3;
  for (let y = 0; y < spec.size; y++)
    for (let x = 0; x < spec.size; x++)
      for (let c = 0; c < 3; c++)
        out[per + y * row + (spec.size - 1 - x) * 3 + c] = out[y * row + x * 3 + c]!;
  return out;
}

/**
 * The current path, as the captioner runs it (decoded into [image | mirror] with the mirror written
 * alongside), and checked against the other way, mirrorInto after preprocessing.
 */
async function current(bytes: Uint8Array, spec: PreprocessSpec, partial = false): Promise<Float32Array> {
  const per = imageLength(spec.size);
  const out = new Float32Array(2 * per).fill(Number.NaN); // garbage where nothing must remain
  const options = { ...spec, out, allowPartial: partial };
  const batch = await preprocessBatch([bytes], { ...options, mirror: true });
  expect(batch.data).toBe(out);
  expect(batch.errors[0]).toBeUndefined();
  const separate = new Float32Array(2 * per).fill(Number.NaN);
  await preprocessBatch([bytes], { ...options, out: separate });
  mirrorInto(separate, 1, spec.size, separate.subarray(per));
  expect(Buffer.compare(Buffer.from(separate.buffer), Buffer.from(out.buffer))).toBe(0);
  return out;
}

const BYTE_RANGE = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] } as PreprocessSpec["normalization"];
const IMAGENET = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
} as PreprocessSpec["normalization"];

const gradient = rgbImage(300, 200, (x, y) => [(x * 255) / 299, (y * 255) / 199, ((x + y) * 3) % 256]);
const photo = rgbImage(224, 224, (x, y) => [(x * y) % 256, (x * 7 + y) % 256, (255 - x + 3 * y) % 256]);
const images = {
  "a JPEG photo-like gradient": () => encodeImage(gradient, "jpeg"),
  "a 224-pixel 4:2:0 JPEG, as Flickr8k's": () =>
    sharp(photo.data, { raw: { width: 224, height: 224, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer(),
  "a progressive JPEG as wide as 448 (one side grows)": () =>
    sharp(noiseImage(448, 300).data, { raw: { width: 448, height: 300, channels: 3 } })
      .jpeg({ progressive: true })
      .toBuffer(),
  "an RGB PNG": () => encodeImage(noiseImage(100, 70), "png"),
  "a noisy JPEG stored sideways (EXIF orientation 6)": () =>
    encodeImage(noiseImage(180, 120), "jpeg", { orientation: 6 }),
  "a noisy PNG with EXIF orientation 3": () => encodeImage(noiseImage(90, 140), "png", { orientation: 3 }),
  "a PNG with transparency": () => encodeImage(withAlpha(noiseImage(64, 48), 100), "png"),
  "a grey PNG": () => encodeImage(greyImage(50, 70, 77), "png"),
  "a one-channel PNG": () =>
    sharp(noiseImage(40, 30).data.subarray(0, 1200), { raw: { width: 40, height: 30, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toBuffer(),
};

const SPECS = [
  { size: 224, normalization: BYTE_RANGE, fit: "fill" },
  { size: 448, normalization: BYTE_RANGE, fit: "fill" }, // the default model
  { size: 448, normalization: IMAGENET, fit: "fill" },
  { size: 37, normalization: IMAGENET, fit: "cover" },
] as PreprocessSpec[];

describe("fast preprocessing gives the old pixels bit for bit", () => {
  it.each(Object.keys(images) as (keyof typeof images)[])("%s", async (name) => {
    const bytes = await images[name]();
    for (const spec of SPECS) {
      const [want, got] = [await reference(bytes, spec), await current(bytes, spec)];
      expect(got.length).toBe(want.length);
      // compared as bytes: equal floats have equal bits, and NaN left behind would show
      expect(
        Buffer.compare(Buffer.from(got.buffer), Buffer.from(want.buffer)),
        `${name} at ${spec.size}`,
      ).toBe(0);
    }
  });

  it("enlarges the default model's photos in WebAssembly, others in sharp", async () => {
    const enlarged = vi.mocked(enlargeRgb);
    const spec = SPECS[1]!;
    for (const [name, fast] of [
      ["a 224-pixel 4:2:0 JPEG, as Flickr8k's", true],
      ["an RGB PNG", true],
      ["a noisy JPEG stored sideways (EXIF orientation 6)", false],
      ["a PNG with transparency", false],
      ["a one-channel PNG", false],
    ] as const) {
      enlarged.mockClear();
      await current(await images[name](), spec);
      expect(enlarged.mock.calls.length > 0, name).toBe(fast);
    }
  });

  it("keeps the old answer for truncated JPEGs: the same error, or with allowPartial the same pixels", async () => {
    const bytes = await truncatedJpeg();
    const spec = SPECS[1]!;
    const want = await reference(bytes, spec).catch((error: unknown) => fromSharpError(error, "<buffer>"));
    const { errors } = await preprocessBatch([bytes], spec);
    expect(errors[0]?.message).toBe((want as Error).message);
    const [a, b] = [await reference(bytes, spec, true), await current(bytes, spec, true)];
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
  });

  it("zeroes the slot of an image that fails when writing into a given array", async () => {
    const good = await encodeImage(noiseImage(20, 20), "png");
    const per = imageLength(8);
    const out = new Float32Array(3 * per).fill(7);
    const batch = await preprocessBatch([good, new Uint8Array([1, 2, 3]), good], {
      size: 8,
      normalization: IMAGENET,
      out,
    });
    expect(batch.errors.map((e) => e?.code)).toEqual([undefined, "not_an_image", undefined]);
    expect(out.subarray(per, 2 * per).every((v) => v === 0)).toBe(true);
    expect(out.subarray(0, per)).toEqual(out.subarray(2 * per));
    await expect(
      preprocessBatch([good], { size: 8, normalization: IMAGENET, out: new Float32Array(5) }),
    ).rejects.toThrow(RangeError);
  });
});
