import { existsSync } from "node:fs";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ExifTool, type WriteTags } from "exiftool-vendored";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { encodeImage, solidImage, writeBadImages, writeFixture } from "../../test/fixtures/images.js";
import { fakeCaptioner } from "../serve/test-utils/fake-captioner.js";
import { captionFiles } from "./batch.js";
import type { AltTextRecord } from "./types.js";

const exiftool = new ExifTool({ maxProcs: 1 });
afterAll(() => exiftool.end());

async function collect(iterable: AsyncIterable<AltTextRecord>): Promise<AltTextRecord[]> {
  const out: AltTextRecord[] = [];
  for await (const record of iterable) out.push(record);
  return out;
}

async function workdir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "captionkit-alttext-"));
}

describe("captionFiles", () => {
  it("captions in input order, gives bad files an error record and goes on", async () => {
    const dir = await workdir();
    const red = await writeFixture(dir, "red.png", await encodeImage(solidImage(20, 20, [255, 0, 0]), "png"));
    const blue = await writeFixture(
      dir,
      "blue.jpg",
      await encodeImage(solidImage(20, 20, [0, 0, 255]), "jpeg"),
    );
    const bad = await writeBadImages(dir);
    const captioner = fakeCaptioner();
    const paths = [
      red,
      bad.truncatedJpeg.path,
      bad.text.path,
      blue,
      bad.empty.path,
      bad.bombPng.path,
      join(dir, "gone.jpg"),
    ];
    const records = await collect(captionFiles(paths, captioner, { batchSize: 4, concurrency: 2 }));
    expect(records.map((r) => r.image)).toEqual(paths);
    expect(records.map((r) => r.caption ?? r.code)).toEqual([
      "A red square.",
      "corrupt",
      "not_an_image",
      "A blue square.",
      "empty",
      "too_many_pixels",
      "not_found",
    ]);
    expect(records[1]!.error).toMatch(/truncated|damaged/);
    expect(records[1]!.error).not.toContain(dir);
    expect(records[0]).toMatchObject({ model: "fake-colour-v1", alternatives: [{}, {}] });
    const info = await stat(red);
    expect(records[0]!.file).toEqual({
      path: resolve(red),
      size: info.size,
      mtime_ms: Math.round(info.mtimeMs),
    });
    // Two chunks of 4 each failed as a whole, then went one image at a time.
    expect(captioner.calls.slice(0, 2)).toEqual([4, 3]);
  });

  it("flags captions below --min-confidence", async () => {
    const dir = await workdir();
    const red = await writeFixture(dir, "red.png", await encodeImage(solidImage(8, 8, [255, 0, 0]), "png"));
    const [low] = await collect(
      captionFiles([red], fakeCaptioner({ confidence: 0.2 }), { minConfidence: 0.5 }),
    );
    const [high] = await collect(
      captionFiles([red], fakeCaptioner({ confidence: 0.9 }), { minConfidence: 0.5 }),
    );
    expect(low!.low_confidence).toBe(true);
    expect(low!.caption).toBe("A red square.");
    expect(high!.low_confidence).toBe(false);
  });

  it("writes an XMP sidecar, keeping an existing sidecar's other fields", async () => {
    const dir = await workdir();
    const fresh = await writeFixture(
      dir,
      "fresh.png",
      await encodeImage(solidImage(8, 8, [255, 0, 0]), "png"),
    );
    const kept = await writeFixture(
      dir,
      "kept.jpg",
      await encodeImage(solidImage(8, 8, [0, 0, 255]), "jpeg"),
    );
    await exiftool.write(
      `${kept}.xmp`,
      { "XMP-dc:Title": "Holiday", "XMP-dc:Subject": ["beach", "sea"], "XMP-xmp:Rating": 4 } as WriteTags,
      {
        writeArgs: ["-overwrite_original"],
      },
    );
    const imageBefore = await readFile(kept);
    const records = await collect(
      captionFiles([fresh, kept], fakeCaptioner({ confidence: 0.3 }), {
        xmpSidecar: true,
        minConfidence: 0.5,
      }),
    );
    expect(records.map((r) => r.xmp_sidecar)).toEqual([`${fresh}.xmp`, `${kept}.xmp`]);
    const freshTags = await exiftool.read(`${fresh}.xmp`);
    expect(freshTags.Description).toBe("Possibly: a red square.");
    const keptTags = await exiftool.read(`${kept}.xmp`);
    expect(keptTags.Description).toBe("Possibly: a blue square.");
    expect(keptTags.Title).toBe("Holiday");
    expect(keptTags.Subject).toEqual(["beach", "sea"]);
    expect(keptTags.Rating).toBe(4);
    expect(await readFile(kept)).toEqual(imageBefore);
  });

  it("embeds XMP and EXIF descriptions without re-encoding pixels, keeping a backup unless told not to", async () => {
    const dir = await workdir();
    const image = solidImage(24, 16, [0, 160, 0]);
    const withBackup = await writeFixture(dir, "a.jpg", await encodeImage(image, "jpeg"));
    const noBackup = await writeFixture(dir, "b.png", await encodeImage(image, "png"));
    const originalBytes = await readFile(withBackup);
    const pixelsBefore = await Promise.all([withBackup, noBackup].map((p) => sharp(p).raw().toBuffer()));

    const [a] = await collect(captionFiles([withBackup], fakeCaptioner(), { embed: true }));
    const [b] = await collect(captionFiles([noBackup], fakeCaptioner(), { embed: true, backup: false }));
    expect(a).toMatchObject({ embedded: true, backup: `${withBackup}_original` });
    expect(b!.embedded).toBe(true);
    expect(b!.backup).toBeUndefined();
    expect(await readFile(`${withBackup}_original`)).toEqual(originalBytes);
    expect(existsSync(`${noBackup}_original`)).toBe(false);
    for (const path of [withBackup, noBackup]) {
      const tags = await exiftool.read(path);
      expect(tags.Description).toBe("A green square.");
      expect(tags.ImageDescription).toBe("A green square.");
    }
    const pixelsAfter = await Promise.all([withBackup, noBackup].map((p) => sharp(p).raw().toBuffer()));
    expect(pixelsAfter).toEqual(pixelsBefore);
    // The stamp is taken after embedding, so a rerun recognises the changed file.
    const info = await stat(withBackup);
    expect(a!.file).toEqual({
      path: resolve(withBackup),
      size: info.size,
      mtime_ms: Math.round(info.mtimeMs),
    });
  });
});
