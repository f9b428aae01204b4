import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BadImage,
  type BadImageKind,
  bombPng,
  encodeImage,
  noiseImage,
  truncatedJpeg,
  writeBadImages,
} from "../../test/fixtures/images.js";
import type { Normalization } from "../encoders/types.js";
import { ImageError, preprocessImage, probeImage } from "./index.js";

const NORM: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

async function errorOf(promise: Promise<unknown>): Promise<ImageError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError);
    return error as ImageError;
  }
  throw new Error("expected an ImageError, got a result");
}

let dir: string;
let bad: Record<BadImageKind, BadImage>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "captionkit-bad-"));
  bad = await writeBadImages(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bad input gives a typed error naming the file", () => {
  const kinds: BadImageKind[] = ["empty", "text", "truncatedJpeg", "corruptPng", "bombPng", "svg"];
  it.each(kinds)("%s", async (kind) => {
    const { path, code } = bad[kind];
    const error = await errorOf(preprocessImage(path, { size: 8, normalization: NORM }));
    expect(error.code).toBe(code);
    expect(error.file).toBe(path);
    expect(error.message).toContain(path);
  });

  it("names <buffer> for bytes", async () => {
    const error = await errorOf(preprocessImage(Buffer.from("plain text"), { size: 8, normalization: NORM }));
    expect(error.code).toBe("not_an_image");
    expect(error.message).toMatch(/^<buffer>: /);
    expect((await errorOf(preprocessImage(new Uint8Array(0), { size: 8, normalization: NORM }))).code).toBe(
      "empty",
    );
  });

  it("a missing file is not_found, a directory is not_an_image", async () => {
    const missing = join(dir, "missing.jpg");
    expect((await errorOf(preprocessImage(missing, { size: 8, normalization: NORM }))).code).toBe(
      "not_found",
    );
    expect((await errorOf(preprocessImage(dir, { size: 8, normalization: NORM }))).code).toBe("not_an_image");
  });
});

describe("truncated files", () => {
  it("fail as corrupt by default and decode partially with allowPartial", async () => {
    const bytes = await truncatedJpeg();
    expect((await errorOf(preprocessImage(bytes, { size: 8, normalization: NORM }))).code).toBe("corrupt");
    const partial = await preprocessImage(bytes, { size: 8, normalization: NORM, allowPartial: true });
    expect(partial.length).toBe(8 * 8 * 3);
    expect(partial.every(Number.isFinite)).toBe(true);
  });

  it("a file cut inside its header is corrupt too", async () => {
    const full = await encodeImage(noiseImage(16, 16), "png");
    const error = await errorOf(preprocessImage(full.subarray(0, 30), { size: 8, normalization: NORM }));
    expect(error.code).toBe("corrupt");
  });
});

describe("decompression bombs", () => {
  it("are refused from the header, fast and without allocating the pixels", async () => {
    const bytes = bombPng();
    expect(bytes.length).toBeLessThan(200);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const error = await errorOf(preprocessImage(bytes, { size: 224, normalization: NORM }));
    const elapsed = performance.now() - started;
    expect(error.code).toBe("too_many_pixels");
    expect(error.message).toContain("100.0 megapixels");
    expect(elapsed).toBeLessThan(1000);
    // Decoding would need 300 MB; allow generous slack for unrelated allocations.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it("the limit is configurable both ways", async () => {
    const small = await encodeImage(noiseImage(100, 100), "png");
    const error = await errorOf(preprocessImage(small, { size: 8, normalization: NORM, maxPixels: 9_999 }));
    expect(error.code).toBe("too_many_pixels");
    await expect(
      preprocessImage(small, { size: 8, normalization: NORM, maxPixels: 10_000 }),
    ).resolves.toHaveLength(192);
    // Raising the limit lets the header through; the lying header then fails as a damaged file, not a crash.
    const raised = await errorOf(
      preprocessImage(bombPng(), { size: 8, normalization: NORM, maxPixels: 2e8 }),
    );
    expect(raised.code).toBe("corrupt");
  });

  it("probeImage reports size and format without decoding", async () => {
    const probed = await probeImage(await encodeImage(noiseImage(30, 20), "webp"));
    expect([probed.width, probed.height, probed.metadata.format]).toEqual([30, 20, "webp"]);
  });
});
