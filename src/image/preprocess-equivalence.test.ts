import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { encodeImage, greyImage, noiseImage, rgbImage, withAlpha } from "../../test/fixtures/images.js";
import { imageLength, mirrorInto, type PreprocessSpec, preprocessBatch } from "./preprocess.js";

/*
 * The preprocessing as it was before it was made faster (commit 226792c): one sharp pipeline, or two
 * for an EXIF-rotated image, then normalisation computed value by value and the mirror copied pixel
 * by pixel into a separate array. The fast path must give the same bits.
 */
async function reference(bytes: Uint8Array, spec: PreprocessSpec): Promise<Float32Array> {
  const white = { r: 255, g: 255, b: 255 };
  const open = () => sharp(bytes, { limitInputPixels: 40_000_000, failOn: "truncated", pages: 1, page: 0 });
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

/** The current path, as the captioner runs it: decoded into [image | mirror], mirrored in place. */
async function current(bytes: Uint8Array, spec: PreprocessSpec): Promise<Float32Array> {
  const per = imageLength(spec.size);
  const out = new Float32Array(2 * per).fill(Number.NaN); // garbage where nothing must remain
  const batch = await preprocessBatch([bytes], { ...spec, out });
  expect(batch.data).toBe(out);
  expect(batch.errors[0]).toBeUndefined();
  mirrorInto(out, 1, spec.size, out.subarray(per));
  return out;
}

const BYTE_RANGE = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] } as PreprocessSpec["normalization"];
const IMAGENET = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
} as PreprocessSpec["normalization"];

const gradient = rgbImage(300, 200, (x, y) => [(x * 255) / 299, (y * 255) / 199, ((x + y) * 3) % 256]);
const images = {
  "a JPEG photo-like gradient": () => encodeImage(gradient, "jpeg"),
  "a noisy JPEG stored sideways (EXIF orientation 6)": () =>
    encodeImage(noiseImage(180, 120), "jpeg", { orientation: 6 }),
  "a noisy PNG with EXIF orientation 3": () => encodeImage(noiseImage(90, 140), "png", { orientation: 3 }),
  "a PNG with transparency": () => encodeImage(withAlpha(noiseImage(64, 48), 100), "png"),
  "a grey PNG": () => encodeImage(greyImage(50, 70, 77), "png"),
};

describe("fast preprocessing gives the old pixels bit for bit", () => {
  it.each(Object.keys(images) as (keyof typeof images)[])("%s", async (name) => {
    const bytes = await images[name]();
    for (const spec of [
      { size: 224, normalization: BYTE_RANGE, fit: "fill" },
      { size: 448, normalization: BYTE_RANGE, fit: "fill" },
      { size: 37, normalization: IMAGENET, fit: "cover" },
    ] as PreprocessSpec[]) {
      const [want, got] = [await reference(bytes, spec), await current(bytes, spec)];
      expect(got.length).toBe(want.length);
      // compared as bytes: equal floats have equal bits, and NaN left behind would show
      expect(
        Buffer.compare(Buffer.from(got.buffer), Buffer.from(want.buffer)),
        `${name} at ${spec.size}`,
      ).toBe(0);
    }
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
