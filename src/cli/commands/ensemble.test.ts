import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { encodeImage, solidImage, writeFixture } from "../../../test/fixtures/images.js";
import { tinyColourModel } from "../../../test/fixtures/models.js";
import { initBackend } from "../../tfjs/backend.js";

const bin = path.resolve(import.meta.dirname, "../../../bin/captionkit.js");
const run = promisify(execFile);
const captionkit = (...args: string[]) => run(process.execPath, [bin, ...args]);

const WORDS = ["a", "red", "dog", "runs"];

/** A temporary folder with models a and b (one vocabulary) and a solid red photo. */
async function twoModelsAndPhoto(prefix: string): Promise<{ root: string; photo: string }> {
  await initBackend("wasm");
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  await tinyColourModel(path.join(root, "a"), 1, WORDS);
  await tinyColourModel(path.join(root, "b"), 2, WORDS);
  const png = await encodeImage(solidImage(32, 32, [200, 30, 40]), "png");
  return { root, photo: await writeFixture(root, "red.png", png) };
}

describe("captionkit ensemble", () => {
  it("joins two model folders into one that caption loads, and refuses other vocabularies", async () => {
    const { root, photo } = await twoModelsAndPhoto("captionkit-ensemble-cli-");
    await tinyColourModel(path.join(root, "c"), 3, ["a", "blue", "cat", "sits"]);
    const out = path.join(root, "ab");
    const made = await captionkit("ensemble", path.join(root, "a"), path.join(root, "b"), "--out", out);
    expect(made.stdout.trim()).toBe(out);
    const captioned = await captionkit("caption", photo, "--model", out, "--format", "json");
    const [record] = JSON.parse(captioned.stdout);
    expect(record.model).toBe("ab");
    expect(typeof record.caption).toBe("string");
    const refused = await captionkit(
      "ensemble",
      path.join(root, "a"),
      path.join(root, "c"),
      "--out",
      path.join(root, "ac"),
    ).catch((error: { stderr: string; code: number }) => error);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/vocabularies differ/);
  }, 60_000);

  it("writes test-time mirroring into the ensemble with --mirror; caption --no-mirror turns it off", async () => {
    const { root, photo } = await twoModelsAndPhoto("captionkit-ensemble-mirror-");
    const out = path.join(root, "ab");
    await captionkit("ensemble", path.join(root, "a"), path.join(root, "b"), "--out", out, "--mirror");
    expect(JSON.parse(await readFile(path.join(out, "model.json"), "utf8")).mirror).toBe(true);
    // a solid image is its own mirror image: both ways give one caption and confidence
    const caption = async (...flags: string[]) =>
      JSON.parse(
        (await captionkit("caption", photo, "--model", out, "--format", "json", ...flags)).stdout,
      )[0];
    const mirrored = await caption();
    const plain = await caption("--no-mirror");
    expect(mirrored.caption).toBe(plain.caption);
    expect(mirrored.confidence).toBeCloseTo(plain.confidence, 3);
  }, 60_000);
});
