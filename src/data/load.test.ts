import { rmSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatasetError, MissingImagesError } from "./errors.js";
import { loadDataset } from "./load.js";
import { tempDir, touchImages, tsvRows, writeFiles } from "./test-utils/fixtures.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const names = (count: number): string[] => Array.from({ length: count }, (_, i) => `img${i}.jpg`);

/** The ../shared layout in miniature: captions.tsv, images/, splits/{train,val}.txt. */
function flickrLayout(count = 10): string {
  const images = names(count);
  writeFiles(dir, {
    "captions.tsv": tsvRows(images),
    "splits/train.txt": `${images.slice(0, 6).join("\n")}\n`,
    "splits/val.txt": `${images.slice(6, 8).join("\n")}\n`,
  });
  touchImages(path.join(dir, "images"), images);
  return path.join(dir, "captions.tsv");
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("loadDataset: image folder", () => {
  it("finds images in images/ beside the file and resolves absolute paths", async () => {
    const dataset = await loadDataset(flickrLayout());
    expect(dataset.format).toBe("tsv");
    expect(dataset.imageRoot).toBe(path.join(dir, "images"));
    expect(dataset.images[0]).toEqual({
      id: "img0.jpg",
      path: path.join(dir, "images", "img0.jpg"),
      captions: tsvRows(["img0.jpg"])
        .split("\n")
        .map((row) => row.split("\t")[2]),
      split: "train",
    });
    expect(dataset.source).toBe(path.join(dir, "captions.tsv"));
  });

  it("uses the file's own folder when the images are there", async () => {
    writeFiles(dir, { "data.jsonl": '{"image": "a.png", "captions": ["x"]}\n' });
    touchImages(dir, ["a.png"]);
    const dataset = await loadDataset(path.join(dir, "data.jsonl"));
    expect(dataset.imageRoot).toBe(dir);
    expect(dataset.images[0]!.path).toBe(path.join(dir, "a.png"));
  });

  it("honours --images over the guess, and keeps absolute paths as they are", async () => {
    const elsewhere = path.join(dir, "pictures");
    touchImages(elsewhere, ["a.png"]);
    touchImages(path.join(dir, "abs"), ["b.png"]);
    const absolute = path.join(dir, "abs", "b.png");
    writeFiles(dir, {
      "data.jsonl": `{"image": "a.png", "captions": ["x"]}\n${JSON.stringify({ image: absolute, captions: ["y"] })}\n`,
    });
    const dataset = await loadDataset(path.join(dir, "data.jsonl"), { images: elsewhere });
    expect(dataset.images.map((image) => image.path)).toEqual([path.join(elsewhere, "a.png"), absolute]);
  });

  it("finds COCO images in ../<split> named after captions_<split>.json", async () => {
    const coco = {
      images: [{ id: 1, file_name: "COCO_val2014_1.jpg" }],
      annotations: [{ image_id: 1, caption: "a cat" }],
    };
    writeFiles(dir, { "annotations/captions_val2014.json": JSON.stringify(coco) });
    touchImages(path.join(dir, "val2014"), ["COCO_val2014_1.jpg"]);
    const dataset = await loadDataset(path.join(dir, "annotations/captions_val2014.json"));
    expect(dataset.images[0]!.path).toBe(path.join(dir, "val2014", "COCO_val2014_1.jpg"));
  });
});

describe("loadDataset: splits", () => {
  it("all takes every image and tags split membership from splits/", async () => {
    const dataset = await loadDataset(flickrLayout());
    expect(dataset.images).toHaveLength(10);
    expect(dataset.splitNames).toEqual(["train", "val"]);
    expect(dataset.images.map((image) => image.split ?? "-").join()).toBe(
      "train,train,train,train,train,train,val,val,-,-",
    );
  });

  it("selects a split by name, or several joined by commas", async () => {
    const spec = flickrLayout();
    expect((await loadDataset(spec, { split: "val" })).images.map((image) => image.id)).toEqual([
      "img6.jpg",
      "img7.jpg",
    ]);
    expect((await loadDataset(spec, { split: "train,val" })).images).toHaveLength(8);
  });

  it("selects by a split-list file path, matching ids, relative files or base names", async () => {
    const spec = flickrLayout();
    writeFiles(dir, { "mine.txt": "# chosen\nimg3.jpg\n\nimg1.jpg\r\nimg1.jpg\n" });
    const dataset = await loadDataset(spec, { split: path.join(dir, "mine.txt") });
    // Dataset order, duplicates in the list collapse.
    expect(dataset.images.map((image) => image.id)).toEqual(["img1.jpg", "img3.jpg"]);
    expect(dataset.split).toBe(path.join(dir, "mine.txt"));
  });

  it("warns about list names that are not in the dataset", async () => {
    const spec = flickrLayout();
    writeFiles(dir, { "mine.txt": "img1.jpg\nnope.jpg\n" });
    const seen: string[] = [];
    const dataset = await loadDataset(spec, {
      split: path.join(dir, "mine.txt"),
      onWarning: (m) => seen.push(m),
    });
    expect(dataset.images).toHaveLength(1);
    expect(seen).toEqual([`${path.join(dir, "mine.txt")}: 1 names are not in the dataset (nope.jpg)`]);
    expect(dataset.warnings).toEqual(seen);
  });

  it("uses the file's own split field (Karpathy), ignoring splits/", async () => {
    const karpathy = {
      images: [
        { filename: "a.jpg", split: "train", sentences: [{ raw: "x" }] },
        { filename: "b.jpg", split: "restval", sentences: [{ raw: "y" }] },
        { filename: "c.jpg", split: "test", sentences: [{ raw: "z" }] },
      ],
    };
    writeFiles(dir, { "dataset_flickr8k.json": JSON.stringify(karpathy), "splits/val.txt": "a.jpg\n" });
    touchImages(dir, ["a.jpg", "b.jpg", "c.jpg"]);
    const spec = path.join(dir, "dataset_flickr8k.json");
    const all = await loadDataset(spec);
    expect(all.splitNames).toEqual(["restval", "test", "train"]);
    expect((await loadDataset(spec, { split: "train,restval" })).images.map((image) => image.id)).toEqual([
      "a.jpg",
      "b.jpg",
    ]);
    await expect(loadDataset(spec, { split: "val" })).rejects.toThrow(/unknown split "val"/);
  });

  it("rejects unknown split names, listing the known ones", async () => {
    const error = await rejection(loadDataset(flickrLayout(), { split: "test" }));
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(/unknown split "test" \(known splits: train, val\)/);
  });

  it("rejects a split-list path that does not exist, and a selection with no image", async () => {
    const spec = flickrLayout();
    await expect(loadDataset(spec, { split: "lists/missing.txt" })).rejects.toThrow(/split list not found/);
    writeFiles(dir, { "none.txt": "other.jpg\n" });
    await expect(loadDataset(spec, { split: path.join(dir, "none.txt") })).rejects.toThrow(
      /selects no image/,
    );
  });
});

describe("loadDataset: missing images", () => {
  it("reports every missing image at once, with the count and the first names", async () => {
    const spec = flickrLayout(10);
    for (const i of [2, 4, 5, 7, 8, 9]) rmSync(path.join(dir, "images", `img${i}.jpg`));
    const error = await rejection(loadDataset(spec));
    expect(error).toBeInstanceOf(MissingImagesError);
    expect(error.message).toContain(
      "6 of 10 images are missing on disk under " +
        `${path.join(dir, "images")} (img2.jpg, img4.jpg, img5.jpg, img7.jpg, img8.jpg and 1 more)`,
    );
    expect(error.message).toMatch(/--images DIR .* --skip-missing/);
    expect((error as MissingImagesError).missing).toHaveLength(6);
  });

  it("checks only the selected split", async () => {
    const spec = flickrLayout(10);
    rmSync(path.join(dir, "images", "img9.jpg"));
    expect((await loadDataset(spec, { split: "val" })).images).toHaveLength(2);
  });

  it("skipMissing leaves them out with one warning", async () => {
    const spec = flickrLayout(10);
    for (const i of [0, 1]) rmSync(path.join(dir, "images", `img${i}.jpg`));
    const seen: string[] = [];
    const dataset = await loadDataset(spec, { skipMissing: true, onWarning: (m) => seen.push(m) });
    expect(dataset.images).toHaveLength(8);
    expect(seen).toEqual([
      `skipped 2 of 10 images missing under ${path.join(dir, "images")} (img0.jpg, img1.jpg)`,
    ]);
  });

  it("skipMissing still fails when nothing is left, and checkImages false skips the check", async () => {
    writeFiles(dir, { "c.tsv": tsvRows(["a.jpg"]) });
    const spec = path.join(dir, "c.tsv");
    await expect(loadDataset(spec, { skipMissing: true })).rejects.toThrow(/no image of split "all" exists/);
    expect((await loadDataset(spec, { checkImages: false })).images).toHaveLength(1);
  });
});

describe("loadDataset: the file itself", () => {
  it("names a missing dataset file and a folder given instead of a file", async () => {
    await expect(loadDataset(path.join(dir, "nope.tsv"))).rejects.toThrow(
      /nope\.tsv: dataset file not found/,
    );
    await expect(loadDataset(dir)).rejects.toThrow(/is a folder: give the dataset file itself/);
  });

  it("passes parse errors through with the path as given", async () => {
    writeFiles(dir, { "c.tsv": "a.jpg\t0\tok\nbroken row\n" });
    const spec = path.join(dir, "c.tsv");
    await expect(loadDataset(spec)).rejects.toThrow(`${spec}:2: expected 3 tab-separated fields`);
  });
});
