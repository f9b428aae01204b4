import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ExifTool, type WriteTags } from "exiftool-vendored";
import { afterAll, describe, expect, it } from "vitest";
import { encodeImage, solidImage, writeFixture } from "../../../test/fixtures/images.js";
import { writeTinyModel } from "../../alttext/test-utils/tiny-model.js";
import type { Captioner } from "../../generation/types.js";
import { fakeCaptioner } from "../../serve/test-utils/fake-captioner.js";
import { Screen } from "../test-utils/screen.js";
import { type CaptionCommandOptions, runCaption } from "./caption.js";

async function photos(): Promise<{ dir: string; paths: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "captionkit-caption-"));
  const paths = [
    await writeFixture(dir, "1-red.png", await encodeImage(solidImage(16, 16, [255, 0, 0]), "png")),
    await writeFixture(dir, "2-blue.jpg", await encodeImage(solidImage(16, 16, [0, 0, 255]), "jpeg")),
    await writeFixture(dir, "3-broken.jpg", "not an image"),
  ];
  return { dir, paths };
}

async function run(inputs: string[], options: CaptionCommandOptions, captioner: Captioner = fakeCaptioner()) {
  let stdout = "";
  let stderr = "";
  let loads = 0;
  const summary = await runCaption(inputs, options, {
    loadCaptioner: async () => {
      loads += 1;
      return captioner;
    },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { summary, stdout, stderr, loads };
}

describe("captionkit caption", () => {
  it("adds the tagger's objects to captioned records with --objects, and disposes it", async () => {
    const { dir } = await photos();
    const tagged: string[] = [];
    let disposed = false;
    const object = {
      label: "dog",
      class: 16,
      score: 0.9,
      box: [0.1, 0.2, 0.3, 0.4] as [number, number, number, number],
    };
    let stdout = "";
    await runCaption(
      [dir],
      { format: "jsonl", objects: true },
      {
        loadCaptioner: async () => fakeCaptioner(),
        loadTagger: async () => ({
          tagImage: async (input) => {
            tagged.push(String(input));
            return [object];
          },
          dispose: () => {
            disposed = true;
          },
        }),
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => {},
      },
    );
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines[0].objects).toEqual([object]);
    expect(lines[1].objects).toEqual([object]);
    expect(lines[2].objects).toBeUndefined(); // the broken file has no caption and is not tagged
    expect(tagged).toHaveLength(2);
    expect(disposed).toBe(true);
  });

  it("prints one JSONL line per image with the path as given, errors included", async () => {
    const { dir, paths } = await photos();
    const { summary, stdout } = await run([dir], { format: "jsonl" });
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => l.image)).toEqual(paths);
    expect(lines[0]).toMatchObject({
      caption: "A red square.",
      confidence: expect.any(Number),
      alternatives: expect.any(Array),
    });
    expect(lines[2]).toMatchObject({ code: "not_an_image", error: expect.any(String) });
    expect(summary).toEqual({ total: 3, captioned: 2, skipped: 0, failed: 1, kept: 0 });
  });

  it("prints text, hedging low-confidence captions, with errors on stderr", async () => {
    const { paths } = await photos();
    const single = await run(
      [paths[0]!],
      { minConfidence: "0.5" as unknown as number },
      fakeCaptioner({ confidence: 0.3 }),
    );
    expect(single.stdout).toBe("Possibly: a red square.\n");
    const many = await run(paths, {});
    expect(many.stdout).toBe(`${paths[0]}: A red square.\n${paths[1]}: A blue square.\n`);
    expect(many.stderr).toContain(`${paths[2]}: not a recognised image format`);
  });

  it("prints CSV with a header and a JSON array", async () => {
    const { paths } = await photos();
    const csv = await run(paths.slice(0, 2), { format: "csv" });
    expect(csv.stdout.split("\n")[0]).toBe(
      "image,caption,confidence,low_confidence,alternatives,error,kept_description",
    );
    expect(csv.stdout.split("\n")[1]).toMatch(/^.*1-red\.png,A red square\.,/);
    const json = await run(paths, { format: "json" });
    expect(JSON.parse(json.stdout)).toHaveLength(3);
  });

  it("resumes: --out appends, a rerun skips captioned files and retries failures and changed files", async () => {
    const { dir, paths } = await photos();
    const out = join(dir, "results.jsonl");
    const first = await run([dir], { out });
    expect(first.summary).toMatchObject({ captioned: 2, failed: 1, skipped: 0 });
    expect(first.stdout).toBe("");
    expect((await readFile(out, "utf8")).trim().split("\n")).toHaveLength(3);

    // A run killed mid-write leaves half a line: the next run must still parse everything else.
    await appendFile(out, '{"image": "half-writ');
    const captioner = fakeCaptioner();
    const second = await run([dir], { out }, captioner);
    expect(second.summary).toMatchObject({ captioned: 0, failed: 1, skipped: 2 });
    expect(second.stderr).toContain("removed an incomplete last line (20 bytes) left by an interrupted run");
    expect(captioner.calls.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // Repairing the broken file and touching another makes exactly those two run again.
    await writeFile(paths[2]!, await encodeImage(solidImage(16, 16, [255, 255, 255]), "png"));
    const later = new Date(Date.now() + 60_000);
    await utimes(paths[0]!, later, later);
    const third = await run([dir], { out });
    expect(third.summary).toMatchObject({ captioned: 2, failed: 0, skipped: 1 });
    const fourth = await run([dir], { out });
    expect(fourth.summary).toMatchObject({ captioned: 0, skipped: 3 });
    expect(fourth.loads).toBe(0);
    const lines = (await readFile(out, "utf8")).split("\n").filter(Boolean);
    expect(lines.map((l) => JSON.parse(l).image)).toHaveLength(3 + 1 + 2);
  });

  it("refuses bad options and empty inputs with a message saying what to do", async () => {
    const { dir } = await photos();
    await expect(run([dir], { beam: 0 })).rejects.toThrow(/--beam/);
    await expect(run([dir], { format: "xml" })).rejects.toThrow(/--format/);
    // The message names the flag as typed, not commander's camelCase key.
    await expect(run([dir], { minConfidence: 2 })).rejects.toThrow(/^invalid option --min-confidence: /);
    const empty = await mkdtemp(join(tmpdir(), "captionkit-empty-"));
    await expect(run([empty], {})).rejects.toThrow(/no images found.*--recursive/);
  });
});

describe("captionkit caption messages", () => {
  const exiftool = new ExifTool({ maxProcs: 1 });
  afterAll(() => exiftool.end());

  it("says in every output format, and in the summary, that a person's description was kept", async () => {
    const { dir, paths } = await photos();
    await exiftool.write(paths[0]!, { "XMP-dc:Description": "Grandma's red scarf" } as WriteTags, {
      writeArgs: ["-overwrite_original"],
    });
    const inputs = paths.slice(0, 2);
    const note = `${paths[0]}: kept the description already in the image file (not written by captionkit); --overwrite replaces it`;
    const summary = "(for 1, a description captionkit did not write was kept; --overwrite replaces it)";
    for (const format of ["text", "jsonl", "json", "csv"]) {
      const result = await run(inputs, { format, embed: true, backup: false });
      expect(result.summary, format).toMatchObject({ captioned: 2, kept: 1 });
      expect(result.stderr, format).toContain(note);
      expect(result.stderr, format).toContain(summary);
      if (format === "jsonl")
        expect(JSON.parse(result.stdout.split("\n")[0]!).kept_description).toEqual(["embed"]);
      if (format === "json") expect(JSON.parse(result.stdout)[0].kept_description).toEqual(["embed"]);
      if (format === "csv") expect(result.stdout.split("\n")[1]).toMatch(/,embed$/);
    }
    const out = join(dir, "out.jsonl");
    const logged = await run(inputs, { out, embed: true });
    expect(logged.stderr).toContain(note);
    expect(logged.stderr).toContain(`2 captioned ${summary}, 0 failed`);
    expect((await exiftool.read(paths[0]!)).Description).toBe("Grandma's red scarf");
    // --overwrite redoes the file whose description was kept, even though --out already holds it.
    const resumed = await run(inputs, { out, embed: true, overwrite: true, backup: false });
    expect(resumed.summary).toMatchObject({ captioned: 1, skipped: 1, kept: 0 });
    expect((await exiftool.read(paths[0]!)).Description).toBe("A red square.");
    await exiftool.write(paths[0]!, { "XMP-dc:Description": "Grandma's red scarf" } as WriteTags, {
      writeArgs: ["-overwrite_original"],
    });
    const replaced = await run(inputs, { embed: true, overwrite: true, backup: false });
    expect(replaced.summary.kept).toBe(0);
    expect((await exiftool.read(paths[0]!)).Description).toBe("A red square.");
  });

  it("names --max-pixels in the decompression-bomb error, and the flag lets the image through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "captionkit-big-"));
    const big = await writeFixture(
      dir,
      "big.png",
      await encodeImage(solidImage(300, 200, [255, 0, 0]), "png"),
    );
    const refused = await run([big], { maxPixels: 50_000 });
    expect(refused.stderr).toBe(
      `${big}: 300x200 = 0.1 megapixels exceeds the limit of 0.1 megapixels; to caption it anyway, pass a larger --max-pixels (now 50000)\n`,
    );
    const allowed = await run([big], { maxPixels: "60000" as unknown as number });
    expect(allowed.stdout).toBe("A red square.\n");
  });

  it("reports a missing path where it was given, above the progress bar on a terminal", async () => {
    const { dir, paths } = await photos();
    const missing = join(dir, "gone.jpg");
    const inputs = [paths[0]!, missing, paths[1]!, paths[0]!.replace("1-red", "4-red")];
    await writeFile(inputs[3]!, await readFile(paths[0]!));
    const screen = new Screen();
    await runCaption(
      inputs,
      { out: join(dir, "out.jsonl") },
      {
        loadCaptioner: async () => fakeCaptioner(),
        stdout: () => {},
        stderr: (text) => screen.write(text),
        terminal: { stdout: true, stderr: true, columns: 120 },
      },
    );
    const lines = screen.text();
    expect(lines[0]).toBe(`${missing}: file not found`);
    expect(lines[1]).toMatch(/^captioning \[=+\] 100% 4\/4 images/);
    expect(lines[2]).toMatch(/^3 captioned, 1 failed, 0 skipped/);
    expect(lines).toHaveLength(3);
  });
});

describe("captionkit caption --out, killed mid-run", () => {
  it("keeps every line written before the kill, and the rerun captions only the rest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "captionkit-kill-"));
    const photosDir = join(dir, "photos");
    await mkdir(photosDir);
    for (let i = 0; i < 20; i++) {
      await writeFixture(
        photosDir,
        `${String(i).padStart(2, "0")}.png`,
        await encodeImage(solidImage(8, 8, [255, 0, 0]), "png"),
      );
    }
    const out = join(dir, "results.jsonl");
    const script = fileURLToPath(new URL("../test-utils/caption-child.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, photosDir, out], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    // Wait for the first chunk of 8 lines, then kill without warning.
    for (let tries = 0; tries < 300; tries++) {
      const text = await readFile(out, "utf8").catch(() => "");
      if (text.split("\n").filter(Boolean).length >= 8) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGKILL");
    await exited;
    const written = (await readFile(out, "utf8")).split("\n").filter(Boolean);
    expect(written.length).toBeGreaterThanOrEqual(8);
    expect(written.length).toBeLessThan(20);
    for (const line of written) expect(JSON.parse(line).caption).toBe("A red square.");

    const rerun = await run([photosDir], { out });
    expect(rerun.summary).toMatchObject({
      total: 20,
      skipped: written.length,
      captioned: 20 - written.length,
      failed: 0,
    });
    const images = (await readFile(out, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line).image as string);
    expect(new Set(images).size).toBe(20);
    expect(images).toHaveLength(20);
  });
});

const repoRoot = resolve(fileURLToPath(import.meta.url), "../../../..");
const built = existsSync(join(repoRoot, "dist", "cli", "main.js"));
if (!built) console.log("skipping built-CLI caption test: dist/ is missing (run npm run build)");

describe.skipIf(!built)("captionkit caption (built CLI, tiny real model)", () => {
  it("prints JSONL with an error line for a bad file and exits 1", async () => {
    const model = await writeTinyModel();
    const { paths } = await photos();
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, "bin", "captionkit.js"),
        "caption",
        ...paths,
        "--model",
        model,
        "--format",
        "jsonl",
        "--beam",
        "2",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const code = await new Promise<number | null>((done) => child.on("exit", done));
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => l.image)).toEqual(paths);
    expect(lines[0]).toMatchObject({ model: "tiny-random", caption: expect.stringMatching(/\.$/) });
    expect(lines[2]).toMatchObject({ code: "not_an_image" });
    expect(code).toBe(1);
    expect(stderr).toContain("captionkit: 1 of 3 images failed");
  });
});
