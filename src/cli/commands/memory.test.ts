import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeImage, solidImage, writeFixture } from "../../../test/fixtures/images.js";
import { tinyColourModel } from "../../../test/fixtures/models.js";
import { loadCaptionMemory } from "../../rerank/memory-io.js";
import { initBackend } from "../../tfjs/backend.js";
import { writeCaptionMemory } from "../../training/memory-build.js";

const bin = path.resolve(import.meta.dirname, "../../../bin/captionkit.js");
const run = promisify(execFile);
const captionkit = (...args: string[]) => run(process.execPath, [bin, ...args]);

const WORDS = ["a", "red", "blue", "dog", "cat", "runs", "sits"];
const PHOTOS: Array<[string, [number, number, number], string[]]> = [
  ["red.png", [220, 20, 30], ["a red dog runs", "a red dog"]],
  ["blue.png", [20, 30, 220], ["a blue cat sits", "a blue cat"]],
  ["dark-red.png", [150, 10, 20], ["a red dog runs", "red dog runs"]],
];

describe("captionkit memory", () => {
  let root: string;
  let dataset: string;
  beforeAll(async () => {
    await initBackend("wasm");
    root = await mkdtemp(path.join(tmpdir(), "captionkit-memory-cli-"));
    await tinyColourModel(path.join(root, "model"), 5, WORDS);
    await tinyColourModel(path.join(root, "other"), 6, WORDS);
    const lines: string[] = [];
    for (const [name, colour, captions] of PHOTOS) {
      const file = await writeFixture(root, name, await encodeImage(solidImage(32, 32, colour), "png"));
      lines.push(JSON.stringify({ image: file, captions, split: "train" }));
    }
    dataset = path.join(root, "data.jsonl");
    await writeFile(dataset, `${lines.join("\n")}\n`);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** `captionkit evaluate --format json --captions` on the photos, BLEU only. */
  const evaluateJson = async (model: string, ...flags: string[]) =>
    JSON.parse(
      (
        await captionkit(
          "evaluate",
          ...["--model", model, "--dataset", dataset, "--split", "train", "--metrics", "bleu"],
          ...["--format", "json", "--captions", ...flags],
        )
      ).stdout,
    );

  it("builds a memory that evaluate and caption re-rank with, for its own model only", async () => {
    const memory = path.join(root, "memory");
    const built = await captionkit(
      "memory",
      "--model",
      path.join(root, "model"),
      "--dataset",
      dataset,
      "--out",
      memory,
      "--k",
      "1",
    );
    expect(built.stderr).toMatch(/3 images/);
    const file = JSON.parse(await readFile(path.join(memory, "memory.json"), "utf8"));
    expect(file.model).toBe("tiny-5");
    expect(file.settings.k).toBe(1);
    expect(file.entries.map((e: { captions: string[] }) => e.captions[0])).toEqual([
      "a red dog runs",
      "a blue cat sits",
      "a red dog runs",
    ]);

    const evaluate = (...flags: string[]) => evaluateJson(path.join(root, "model"), ...flags);
    const plain = await evaluate();
    const reranked = await evaluate("--memory", memory);
    expect(reranked.reranking).toBe(`memory ${memory}`);
    // Each photo's nearest memory entry holds its own references, so consensus can only pull the
    // chosen beam towards them: BLEU-1 does not fall, and the random model's captions change.
    expect(reranked["BLEU-1"]).toBeGreaterThanOrEqual(plain["BLEU-1"]);
    expect(reranked.captions).not.toEqual(plain.captions);

    const caption = (model: string, ...flags: string[]) =>
      captionkit(
        "caption",
        path.join(root, "red.png"),
        "--model",
        path.join(root, model),
        "--memory",
        memory,
        ...flags,
      );
    const captioned = JSON.parse((await caption("model", "--format", "json")).stdout)[0].caption;
    expect(captioned).toBe(reranked.captions[path.join(root, "red.png")]);
    // with mirroring the memory is searched with the plain view's vector; a solid photo is its own mirror
    const mirrored = JSON.parse((await caption("model", "--mirror", "--format", "json")).stdout)[0].caption;
    expect(mirrored).toBe(captioned);

    const refused = await caption("other").catch((error: { stderr: string; code: number }) => error);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/built for model tiny-5/);
  }, 90_000);

  it("fits an n-gram prior from a memory, which its model then re-ranks with by default", async () => {
    const memory = path.join(root, "prior-memory");
    await writeCaptionMemory(memory, { modelDir: path.join(root, "model"), dataset, split: "train" });
    // the same model (same name and weights) in a folder of its own, so the others stay prior-free
    const model = path.join(root, "with-prior");
    await tinyColourModel(model, 5, WORDS);
    const fitted = await captionkit("prior", "--memory", memory, "--model", model, "--min-photos", "1");
    expect(fitted.stderr).toMatch(/n-gram prior for tiny-5: \d+ n-grams from 3 photos/);
    expect(existsSync(path.join(model, "ngram-prior.f16.bin"))).toBe(true);

    const evaluate = evaluateJson;
    const withPrior = await evaluate(model);
    expect(withPrior.reranking).toBe("n-gram prior");
    const without = await evaluate(model, "--no-prior");
    expect(without.reranking).toBeUndefined();
    expect(without.captions).toEqual((await evaluate(path.join(root, "model"))).captions);
    // a memory replaces the prior
    expect((await evaluate(model, "--memory", memory)).reranking).toBe(`memory ${memory}`);
    const captioned = JSON.parse(
      (await captionkit("caption", path.join(root, "red.png"), "--model", model, "--format", "json")).stdout,
    )[0].caption;
    expect(captioned).toBe(withPrior.captions[path.join(root, "red.png")]);

    // a memory of another model cannot be fitted into this one, nor a prior copied to another model
    const refused = await captionkit("prior", "--memory", memory, "--model", path.join(root, "other")).catch(
      (error: { stderr: string; code: number }) => error,
    );
    expect((refused as { stderr: string }).stderr).toMatch(/built for model tiny-5/);
    const copied = path.join(root, "copied");
    await tinyColourModel(copied, 6, WORDS);
    for (const file of ["ngram-prior.json", "ngram-prior.f16.bin"])
      await copyFile(path.join(model, file), path.join(copied, file));
    const mismatched = await evaluate(copied).catch((error: { stderr: string }) => error);
    expect((mismatched as { stderr: string }).stderr).toMatch(/fitted for model tiny-5 with other weights/);
  }, 90_000);

  it("continues an interrupted build where it stopped, and ends with the memory a single run gives", async () => {
    const out = path.join(root, "resumed");
    const options = { modelDir: path.join(root, "model"), dataset, split: "train", batchSize: 1 };
    const stop = new Error("stopped");
    await expect(
      writeCaptionMemory(out, {
        ...options,
        onProgress: (done) => {
          if (done === 2) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    expect(existsSync(path.join(out, "memory.json"))).toBe(false);
    const resumedAt: number[] = [];
    const computed: number[] = [];
    await writeCaptionMemory(out, {
      ...options,
      onResume: (done) => resumedAt.push(done),
      onProgress: (done) => computed.push(done),
    });
    expect(resumedAt).toEqual([2]);
    expect(computed).toEqual([3]); // only the last photo was encoded again
    expect(existsSync(path.join(out, "memory.partial.json"))).toBe(false);

    const single = path.join(root, "single");
    await writeCaptionMemory(single, options);
    const [a, b] = await Promise.all([loadCaptionMemory(out), loadCaptionMemory(single)]);
    expect(a.ids).toEqual(b.ids);
    expect(Array.from(a.memory.data.vectors)).toEqual(Array.from(b.memory.data.vectors));
  }, 60_000);
});
