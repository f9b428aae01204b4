import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { noiseImage } from "../../test/fixtures/images.js";
import { enlargementMatchesSharp, enlargeRgb, isEnlargement } from "./upsample.js";

/** sharp's own enlargement (and its mirror image), the reference enlargeRgb must equal bit for bit. */
async function sharpEnlarged(
  src: Buffer,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
) {
  const resized = sharp(src, { raw: { width, height, channels: 3 } }).resize(outWidth, outHeight, {
    fit: "fill",
  });
  const rgb = await resized.clone().raw().toBuffer();
  const mirrored = await resized.clone().flop().raw().toBuffer();
  return { rgb, mirrored };
}

describe("enlargeRgb", () => {
  it("agrees with the installed sharp", async () => {
    expect(await enlargementMatchesSharp()).toBe(true);
  });

  it.each([
    [224, 224, 448, 448], // Flickr8k photo to the default model's input
    [300, 200, 448, 448],
    [37, 41, 448, 448],
    [100, 70, 224, 224],
    [223, 225, 448, 448],
    [448, 100, 448, 448], // one side unchanged
    [100, 448, 448, 448],
    [17, 3, 18, 300],
    [1, 1, 5, 5],
    [31, 17, 333, 35], // a row length that is no multiple of the 16-pixel steps
    [600, 10, 1024, 1024],
  ])(
    "%ix%i to %ix%i gives sharp's pixels and their mirror image",
    async (width, height, outWidth, outHeight) => {
      const { data } = noiseImage(width, height, width * 31 + height);
      const want = await sharpEnlarged(data, width, height, outWidth, outHeight);
      const got = enlargeRgb(data, width, height, outWidth, outHeight, true);
      // compared before the next call, which reuses the memory behind the views
      expect(Buffer.compare(Buffer.from(got.rgb), want.rgb)).toBe(0);
      expect(Buffer.compare(Buffer.from(got.mirrored!), want.mirrored)).toBe(0);
      expect(enlargeRgb(data, width, height, outWidth, outHeight).mirrored).toBeUndefined();
    },
  );

  it("refuses what is not an enlargement", () => {
    expect(isEnlargement(224, 224, 448, 448)).toBe(true);
    expect(isEnlargement(448, 200, 448, 448)).toBe(true);
    expect(isEnlargement(448, 448, 448, 448)).toBe(false); // sharp does not resize at all
    expect(isEnlargement(500, 300, 448, 448)).toBe(false);
    expect(isEnlargement(500, 300, 2000, 2000)).toBe(false); // past MAX_ENLARGED_SIDE: sharp does it
    expect(() => enlargeRgb(new Uint8Array(12), 2, 2, 1, 1)).toThrow(RangeError);
    expect(() => enlargeRgb(new Uint8Array(5), 2, 2, 4, 4)).toThrow(RangeError);
  });
});
