import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildProgram } from "../main.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-score-"));
function file(name: string, content: unknown): string {
  const target = path.join(dir, name);
  writeFileSync(target, typeof content === "string" ? content : JSON.stringify(content));
  return target;
}

async function run(args: string[]): Promise<string> {
  let out = "";
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "captionkit", "score", ...args]);
  } finally {
    write.mockRestore();
    err.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe("captionkit score", () => {
  const references = file("refs.json", {
    a: ["A dog runs on the grass.", "A brown dog is running."],
    b: ["Two children play in the snow.", "Kids playing in snow."],
    extra: ["not scored"],
  });

  it("prints JSON with corpus and per-image scores for every metric", async () => {
    const candidates = file("cands.json", { a: "A dog runs on the grass.", b: "Children in the snow." });
    const output = JSON.parse(
      await run(["--candidates", candidates, "--references", references, "--format", "json"]),
    );
    expect(Object.keys(output)).toEqual([
      "BLEU-1",
      "BLEU-2",
      "BLEU-3",
      "BLEU-4",
      "METEOR",
      "ROUGE-L",
      "CIDEr-D",
      "per_image",
    ]);
    expect(output.per_image.a["BLEU-1"]).toBeCloseTo(1, 6);
    expect(output.per_image.a.METEOR).toBeCloseTo(1, 6);
    expect(Object.keys(output.per_image)).toEqual(["a", "b"]);
  });

  it("accepts COCO results and a COCO annotation file, and a metric subset", async () => {
    const candidates = file("results.json", [
      { image_id: 1, caption: "a dog runs" },
      { image_id: 2, caption: "a cat sleeps" },
    ]);
    const coco = file("captions.json", {
      images: [{ id: 1 }, { id: 2 }],
      annotations: [
        { image_id: 1, id: 10, caption: "A dog runs." },
        { image_id: 2, id: 11, caption: "A cat sleeps." },
      ],
    });
    const output = JSON.parse(
      await run([
        "--candidates",
        candidates,
        "--references",
        coco,
        "--format",
        "json",
        "--metrics",
        "bleu,rouge",
      ]),
    );
    expect(Object.keys(output)).toEqual(["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "per_image"]);
    expect(output["ROUGE-L"]).toBeCloseTo(1, 9);
  });

  it("prints a readable table by default and respects --tokenized", async () => {
    const candidates = file("tok.json", { a: "a dog runs on the grass ." });
    const refs = file("tokrefs.json", { a: ["a dog runs on the grass ."] });
    const table = await run([
      "--candidates",
      candidates,
      "--references",
      refs,
      "--tokenized",
      "--metrics",
      "bleu",
    ]);
    expect(table).toMatch(/BLEU-4\s+1\.0000/);
    expect(table).toMatch(/1 images/);
  });

  it("fails clearly on missing ids, bad JSON and empty input", async () => {
    const missing = file("missing.json", { a: "a dog", zzz: "nothing" });
    await expect(run(["--candidates", missing, "--references", references])).rejects.toThrow(
      /no references: "zzz"/,
    );
    const broken = file("broken.json", "{ not json");
    await expect(run(["--candidates", broken, "--references", references])).rejects.toThrow(
      /broken\.json is not valid JSON/,
    );
    const empty = file("empty.json", {});
    await expect(run(["--candidates", empty, "--references", references])).rejects.toThrow(
      /empty\.json: no candidates/,
    );
    const wrong = file("wrong.json", { a: 3 });
    await expect(run(["--candidates", wrong, "--references", references])).rejects.toThrow(
      /wrong\.json: expected candidates/,
    );
    const ok = file("ok.json", { a: "a dog" });
    await expect(run(["--candidates", ok, "--references", references, "--metrics", "spice"])).rejects.toThrow(
      /unknown metric "spice"/,
    );
  });
});
