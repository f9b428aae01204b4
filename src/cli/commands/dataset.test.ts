import { rmSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { tempDir, touchImages, tsvRows, writeFiles } from "../../data/test-utils/fixtures.js";
import { register } from "./dataset.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  const images = ["a.jpg", "b.jpg", "c.jpg"];
  writeFiles(dir, { "captions.tsv": tsvRows(images, 2), "splits/train.txt": "a.jpg\nb.jpg\n" });
  touchImages(path.join(dir, "images"), images);
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

/** Runs `captionkit dataset ...` in-process and returns what it wrote to stdout and stderr. */
async function run(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command("captionkit").exitOverride();
  register(program);
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(["node", "captionkit", "dataset", ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}

describe("captionkit dataset stats", () => {
  it("prints JSON stats for a split", async () => {
    const { stdout } = await run(
      "stats",
      path.join(dir, "captions.tsv"),
      "--split",
      "train",
      "--format",
      "json",
    );
    const stats = JSON.parse(stdout);
    expect(stats).toMatchObject({
      format: "tsv",
      split: "train",
      images: 2,
      captions: 4,
      splits: { train: 2 },
    });
    expect(stats.imageRoot).toBe(path.join(dir, "images"));
  });

  it("prints a readable text report with a histogram by default", async () => {
    const { stdout } = await run("stats", path.join(dir, "captions.tsv"), "--min-count", "1");
    expect(stdout).toMatch(/^images\s+3$/m);
    expect(stdout).toMatch(/^captions\s+6 \(per image: min 2, mean 2, max 2\)$/m);
    expect(stdout).toMatch(/^splits\s+train 2, \(none\) 1$/m);
    expect(stdout).toMatch(/^vocabulary\s+\d+ tokens at min-count 1/m);
    expect(stdout).toMatch(/^\s+6-10\s+6\s+#{40}$/m);
  });

  it("warns on stderr when --skip-missing leaves images out", async () => {
    rmSync(path.join(dir, "images", "c.jpg"));
    const { stdout, stderr } = await run(
      "stats",
      path.join(dir, "captions.tsv"),
      "--skip-missing",
      "--format",
      "json",
    );
    expect(JSON.parse(stdout).images).toBe(2);
    expect(stderr).toMatch(/^captionkit: warning: skipped 1 of 3 images missing under .* \(c\.jpg\)\n$/);
  });

  it("fails with a message that says what to do", async () => {
    await expect(run("stats", path.join(dir, "captions.tsv"), "--min-count", "0")).rejects.toThrow(
      /--min-count must be a whole number of at least 1/,
    );
    await expect(run("stats", path.join(dir, "captions.tsv"), "--images", dir)).rejects.toThrow(
      /3 of 3 images are missing .*--skip-missing/,
    );
  });
});
