import { describe, expect, it } from "vitest";
import { DatasetError } from "../errors.js";
import { parseDatasetText } from "./detect.js";

function errorOf(run: () => unknown): DatasetError {
  try {
    run();
  } catch (error) {
    if (error instanceof DatasetError) return error;
    throw error;
  }
  throw new Error("expected a DatasetError");
}

const coco = {
  info: { year: 2014 },
  images: [
    { id: 7, file_name: "COCO_val2014_000000000007.jpg", width: 640 },
    { id: 9, file_name: "COCO_val2014_000000000009.jpg" },
  ],
  annotations: [
    { id: 1, image_id: 9, caption: "Two dogs on a couch" },
    { id: 2, image_id: 7, caption: "A red bus" },
    { id: 3, image_id: 7, caption: "  A bus on a street  " },
  ],
};

const karpathy = {
  dataset: "coco",
  images: [
    {
      filepath: "val2014",
      filename: "COCO_val2014_000000000007.jpg",
      split: "test",
      cocoid: 7,
      sentences: [{ raw: "A red bus", tokens: ["a", "red", "bus"] }],
    },
    { filepath: "train2014", filename: "b.jpg", split: "restval", cocoid: 8, sentences: [{ raw: "x y" }] },
  ],
};

describe("format detection and readers", () => {
  it("reads the Flickr token format, ordering captions by index and detecting it from content", () => {
    const text = "a.jpg#1\tsecond caption\r\na.jpg#0\tfirst caption\r\n\r\nb.jpg#0\tonly one\r\n";
    const parsed = parseDatasetText(text, "Flickr8k.token.txt");
    expect(parsed.format).toBe("flickr-token");
    expect(parsed.images).toEqual([
      { id: "a.jpg", file: "a.jpg", captions: ["first caption", "second caption"], line: 1 },
      { id: "b.jpg", file: "b.jpg", captions: ["only one"], line: 4 },
    ]);
  });

  it("keeps a '#' inside a Flickr image name (the original release has such keys)", () => {
    const parsed = parseDatasetText("odd#name.jpg#0\tcaption\n", "t.txt");
    expect(parsed.images[0]!.id).toBe("odd#name.jpg");
  });

  it("reads the shared TSV with or without a header, and with a byte-order mark", () => {
    const body = "a.jpg\t0\tone\na.jpg\t1\ttwo\nb.jpg\t0\tthree\n";
    for (const text of [body, `image\tindex\tcaption\n${body}`, `\uFEFF${body}`]) {
      const parsed = parseDatasetText(text, "captions.tsv");
      expect(parsed.format).toBe("tsv");
      expect(parsed.images.map((image) => [image.id, image.captions])).toEqual([
        ["a.jpg", ["one", "two"]],
        ["b.jpg", ["three"]],
      ]);
    }
  });

  it("reads COCO caption JSON, grouping annotations by image id and hinting the image folder", () => {
    const parsed = parseDatasetText(JSON.stringify(coco, null, 2), "annotations/captions_val2014.json");
    expect(parsed.format).toBe("coco");
    expect(parsed.images).toEqual([
      { id: "7", file: "COCO_val2014_000000000007.jpg", captions: ["A red bus", "A bus on a street"] },
      { id: "9", file: "COCO_val2014_000000000009.jpg", captions: ["Two dogs on a couch"] },
    ]);
    expect(parsed.folderHints).toEqual(["val2014"]);
  });

  it("leaves out COCO images without captions, with a warning", () => {
    const extra = { ...coco, images: [...coco.images, { id: 11, file_name: "c.jpg" }] };
    const parsed = parseDatasetText(JSON.stringify(extra), "c.json");
    expect(parsed.images.map((image) => image.id)).toEqual(["7", "9"]);
    expect(parsed.warnings).toEqual(["c.json: 1 images have no caption and were left out"]);
  });

  it("reads Karpathy JSON with its own splits, COCO ids and filepath", () => {
    const parsed = parseDatasetText(JSON.stringify(karpathy), "dataset_coco.json");
    expect(parsed.format).toBe("karpathy");
    expect(parsed.ownSplits).toBe(true);
    expect(parsed.images).toEqual([
      { id: "7", file: "val2014/COCO_val2014_000000000007.jpg", captions: ["A red bus"], split: "test" },
      { id: "8", file: "train2014/b.jpg", captions: ["x y"], split: "restval" },
    ]);
  });

  it("uses the file name as id for Karpathy Flickr files (no cocoid)", () => {
    const flickr = { images: [{ filename: "1.jpg", split: "train", sentences: [{ raw: "a b" }] }] };
    expect(parseDatasetText(JSON.stringify(flickr), "dataset_flickr8k.json").images[0]).toMatchObject({
      id: "1.jpg",
      file: "1.jpg",
    });
  });

  it("reads JSONL, with an optional split field", () => {
    const text =
      '{"image": "x/a.png", "captions": ["one", "two"]}\n\n{"image": "/abs/b.png", "captions": ["three"], "split": "val"}\n';
    const parsed = parseDatasetText(text, "data.jsonl");
    expect(parsed.format).toBe("jsonl");
    expect(parsed.ownSplits).toBe(true);
    expect(parsed.images).toEqual([
      { id: "x/a.png", file: "x/a.png", captions: ["one", "two"], line: 1 },
      { id: "/abs/b.png", file: "/abs/b.png", captions: ["three"], line: 3, split: "val" },
    ]);
  });

  it("detects by content, not by extension", () => {
    expect(parseDatasetText("a.jpg\t0\tone\n", "weird.json").format).toBe("tsv");
    expect(parseDatasetText(JSON.stringify(coco), "captions.txt").format).toBe("coco");
    expect(parseDatasetText('{"image": "a.jpg", "captions": ["x"]}', "data.json").format).toBe("jsonl");
  });
});

describe("bad input names the file and line", () => {
  const cases: [string, string, string, RegExp][] = [
    ["unknown format", "t.txt", "just some words\n", /^t\.txt:1: cannot tell the format/],
    ["empty file", "t.txt", "\n \n", /^t\.txt: the file is empty/],
    [
      "TSV row with too few fields",
      "c.tsv",
      "a.jpg\t0\tone\nb.jpg\t1\n",
      /^c\.tsv:2: expected 3 tab-separated fields/,
    ],
    ["TSV row with too many fields", "c.tsv", "a.jpg\t0\tone\nb.jpg\t1\tx\ty\n", /^c\.tsv:2: .*found 4/],
    [
      "TSV index not a number",
      "c.tsv",
      "a.jpg\t0\tone\na.jpg\tx\ttwo\n",
      /^c\.tsv:2: caption index must be a whole number/,
    ],
    ["TSV empty caption", "c.tsv", "a.jpg\t0\tone\na.jpg\t1\t  \n", /^c\.tsv:2: empty caption for a\.jpg/],
    ["TSV missing image", "c.tsv", "a.jpg\t0\tone\n\t1\ttwo\n", /^c\.tsv:2: missing image file name/],
    [
      "TSV duplicate id",
      "c.tsv",
      "a.jpg\t0\tone\nb.jpg\t0\tx\na.jpg\t0\tagain\n",
      /^c\.tsv:3: duplicate caption id a\.jpg#0 \(first on line 1\)/,
    ],
    [
      "Flickr malformed line",
      "t.txt",
      "a.jpg#0\tone\na.jpg 1 two\n",
      /^t\.txt:2: expected "<image>#<number><TAB><caption>"/,
    ],
    [
      "Flickr duplicate id",
      "t.txt",
      "a.jpg#0\tone\na.jpg#0\ttwo\n",
      /^t\.txt:2: duplicate caption id a\.jpg#0/,
    ],
    [
      "bad JSON",
      "d.json",
      '{\n  "images": [\n    {"id": 1,}\n  ]\n}',
      /^d\.json:3: invalid JSON \(column \d+: /,
    ],
    ["truncated JSON", "d.json", '{\n  "images": [\n', /^d\.json:\d+: invalid JSON/],
    ["unknown JSON shape", "d.json", '{"foo": 1}', /^d\.json: the JSON does not look like a known dataset/],
    [
      "JSONL bad line",
      "d.jsonl",
      '{"image": "a", "captions": ["x"]}\n{"image": "b", captions: []}\n',
      /^d\.jsonl:2: invalid JSON at column 16/,
    ],
    [
      "JSONL missing captions",
      "d.jsonl",
      '{"image": "a", "captions": ["x"]}\n{"image": "b"}\n',
      /^d\.jsonl:2: captions: expected array/,
    ],
    [
      "JSONL empty captions",
      "d.jsonl",
      '{"image": "a", "captions": []}\n',
      /^d\.jsonl:1: captions: needs at least one caption/,
    ],
    [
      "JSONL duplicate image",
      "d.jsonl",
      '{"image": "a", "captions": ["x"]}\n{"image": "a", "captions": ["y"]}\n',
      /^d\.jsonl:2: duplicate image a \(first on line 1\)/,
    ],
  ];
  it.each(cases)("%s", (_name, file, text, expected) => {
    expect(errorOf(() => parseDatasetText(text, file)).message).toMatch(expected);
  });

  it("COCO: a missing field names the line of the record and its JSON path", () => {
    const bad = structuredClone(coco) as { annotations: Record<string, unknown>[] };
    delete bad.annotations[1]!.caption;
    const text = JSON.stringify(bad, null, 2);
    const error = errorOf(() => parseDatasetText(text, "captions_val2014.json"));
    const line = text.split("\n").findIndex((row) => row.includes('"id": 2'));
    // The error points at the opening brace of annotations[1], one line above its first key.
    expect(error.line).toBe(line);
    expect(error.message).toMatch(/annotations\[1\]\.caption: missing/);
  });

  it("COCO: duplicate image ids and annotations of unknown images", () => {
    const duplicate = { ...coco, images: [...coco.images, { id: 7, file_name: "again.jpg" }] };
    const text = JSON.stringify(duplicate, null, 2);
    const error = errorOf(() => parseDatasetText(text, "c.json"));
    expect(error.message).toMatch(/images\[2\]: duplicate image id 7 \(also images\[0\]\)/);
    expect(text.split("\n")[error.line! - 1]).toMatch(/^\s*\{\s*$/);
    const orphan = { ...coco, annotations: [...coco.annotations, { image_id: 99, caption: "x" }] };
    expect(errorOf(() => parseDatasetText(JSON.stringify(orphan), "c.json")).message).toMatch(
      /^c\.json:1: annotations\[3\]: image_id 99 is not in "images"/,
    );
  });

  it("Karpathy: missing split, empty sentences and duplicate images", () => {
    const noSplit = { images: [{ filename: "a.jpg", sentences: [{ raw: "x" }] }] };
    expect(errorOf(() => parseDatasetText(JSON.stringify(noSplit), "k.json")).message).toMatch(
      /images\[0\]\.split: missing/,
    );
    const noSentences = { images: [{ filename: "a.jpg", split: "train", sentences: [] }] };
    expect(errorOf(() => parseDatasetText(JSON.stringify(noSentences), "k.json")).message).toMatch(
      /images\[0\]\.sentences: an image needs at least one sentence/,
    );
    const twice = { images: [karpathy.images[0], karpathy.images[0]] };
    expect(errorOf(() => parseDatasetText(JSON.stringify(twice), "k.json")).message).toMatch(
      /images\[1\]: duplicate image 7/,
    );
  });
});
