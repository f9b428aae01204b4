import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { encodeImage, greyImage, noiseImage } from "../../test/fixtures/images.js";
import { plainJpegSize } from "./jpeg-header.js";

const rgb = noiseImage(30, 20);
const raw = { raw: { width: 30, height: 20, channels: 3 as const } };

describe("plainJpegSize", () => {
  it("reads the size of baseline and progressive RGB JPEGs, as sharp does", async () => {
    for (const bytes of [
      await encodeImage(rgb, "jpeg"),
      await sharp(rgb.data, raw).jpeg({ progressive: true }).toBuffer(),
      await sharp(rgb.data, raw).jpeg({ chromaSubsampling: "4:2:0" }).toBuffer(),
    ]) {
      const { width, height } = await sharp(bytes).metadata();
      expect(plainJpegSize(bytes)).toEqual({ width, height });
    }
  });

  it("gives undefined whenever other metadata could matter, or for anything else", async () => {
    const jpeg = await encodeImage(rgb, "jpeg");
    for (const bytes of [
      await encodeImage(rgb, "jpeg", { orientation: 6 }), // EXIF
      await sharp(rgb.data, raw).withIccProfile("p3").jpeg().toBuffer(), // ICC profile
      await sharp(greyImage(30, 20).data, { raw: { width: 30, height: 20, channels: 1 } })
        .toColourspace("b-w")
        .jpeg()
        .toBuffer(), // one component
      await sharp(rgb.data, raw).toColourspace("cmyk").jpeg().toBuffer(), // four (and Adobe)
      await encodeImage(rgb, "png"),
      jpeg.subarray(0, 40), // cut inside the header
      new Uint8Array([0xff, 0xd8]),
      new Uint8Array(0),
    ]) {
      expect(plainJpegSize(bytes)).toBeUndefined();
    }
  });
});
