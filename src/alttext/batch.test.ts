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

describe("captionFiles never writes over a person's description unless told to", () => {
  const write = (file: string, tags: Record<string, unknown>) =>
    exiftool.write(file, tags as WriteTags, { writeArgs: ["-overwrite_original"] });

  it("keeps a person's sidecar and embedded descriptions, and reports them", async () => {
    const dir = await workdir();
    const image = await writeFixture(
      dir,
      "rex.jpg",
      await encodeImage(solidImage(8, 8, [255, 0, 0]), "jpeg"),
    );
    await write(`${image}.xmp`, { "XMP-dc:Description": "Rex on his first day home", "XMP-xmp:Rating": 5 });
    await write(image, { "EXIF:ImageDescription": "Rex, 2019" });
    const sidecarBefore = await readFile(`${image}.xmp`);
    const imageBefore = await readFile(image);

    const [record] = await collect(captionFiles([image], fakeCaptioner(), { xmpSidecar: true, embed: true }));
    expect(record).toMatchObject({ caption: "A red square.", kept_description: ["xmp_sidecar", "embed"] });
    expect(record!.error).toBeUndefined();
    expect(record!.xmp_sidecar).toBeUndefined();
    expect(record!.embedded).toBe(false);
    expect(await readFile(`${image}.xmp`)).toEqual(sidecarBefore);
    expect(await readFile(image)).toEqual(imageBefore);
    expect(existsSync(`${image}_original`)).toBe(false);
  });

  it("updates its own earlier description on a rerun, but not one a person has edited since", async () => {
    const dir = await workdir();
    const own = await writeFixture(dir, "own.png", await encodeImage(solidImage(8, 8, [0, 0, 255]), "png"));
    const edited = await writeFixture(
      dir,
      "edited.png",
      await encodeImage(solidImage(8, 8, [0, 0, 255]), "png"),
    );
    const paths = [own, edited];
    const options = { xmpSidecar: true, embed: true, backup: false, minConfidence: 0.5 };
    await collect(captionFiles(paths, fakeCaptioner({ confidence: 0.3 }), options));
    expect((await exiftool.read(`${own}.xmp`)).Description).toBe("Possibly: a blue square.");
    expect((await exiftool.read(own)) as { CaptionWriter?: string }).toHaveProperty("CaptionWriter");
    expect(((await exiftool.read(own)) as { CaptionWriter?: string }).CaptionWriter).toMatch(
      /^captionkit \([0-9a-f]{12}\)$/,
    );
    // A person corrects the text in a photo tool, which leaves the writer field alone.
    await write(`${edited}.xmp`, { "XMP-dc:Description": "Our blue door" });
    await write(edited, { "XMP-dc:Description": "Our blue door", "EXIF:ImageDescription": "Our blue door" });

    const records = await collect(captionFiles(paths, fakeCaptioner({ confidence: 0.9 }), options));
    expect(records.map((r) => r.kept_description)).toEqual([undefined, ["xmp_sidecar", "embed"]]);
    for (const file of [`${own}.xmp`, own])
      expect((await exiftool.read(file)).Description).toBe("A blue square.");
    for (const file of [`${edited}.xmp`, edited])
      expect((await exiftool.read(file)).Description).toBe("Our blue door");
  });

  it("replaces a person's description with overwrite, keeping the old sidecar, and ignores camera filler", async () => {
    const dir = await workdir();
    const image = await writeFixture(
      dir,
      "cat.jpg",
      await encodeImage(solidImage(8, 8, [0, 160, 0]), "jpeg"),
    );
    const camera = await writeFixture(
      dir,
      "cam.jpg",
      await encodeImage(solidImage(8, 8, [0, 160, 0]), "jpeg"),
    );
    await write(`${image}.xmp`, { "XMP-dc:Description": "Whiskers asleep" });
    await write(image, { "XMP-dc:Description": "Whiskers asleep" });
    await write(camera, { "EXIF:ImageDescription": "OLYMPUS DIGITAL CAMERA         " });

    const [replaced, filler] = await collect(
      captionFiles([image, camera], fakeCaptioner(), { xmpSidecar: true, embed: true, overwrite: true }),
    );
    expect(replaced).toMatchObject({ xmp_sidecar: `${image}.xmp`, embedded: true });
    expect(replaced!.kept_description).toBeUndefined();
    expect((await exiftool.read(`${image}.xmp`)).Description).toBe("A green square.");
    expect((await exiftool.read(`${image}.xmp_original`)).Description).toBe("Whiskers asleep");
    expect((await exiftool.read(`${image}_original`)).Description).toBe("Whiskers asleep");
    expect((await exiftool.read(image)).Description).toBe("A green square.");

    expect(filler!.kept_description).toBeUndefined();
    expect((await exiftool.read(camera)).ImageDescription).toBe("A green square.");
  });
});
