import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { COLOURS, ColourPipeline, tempDir, writeColourImage } from "../../search/test-fixtures.js";
import { runIndex } from "./index.js";
import { runSearch } from "./search.js";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const bin = path.join(repoRoot, "bin/captionkit.js");

async function indexedFolder() {
  const dir = await tempDir();
  for (const [name, rgb] of Object.entries(COLOURS))
    await writeColourImage(path.join(dir, `${name}.png`), rgb);
  const db = path.join(dir, "photos.sqlite");
  const out: string[] = [];
  const summary = await runIndex(
    dir,
    { db, batch: 2, embeddingModel: path.join(dir, "no-embedding") },
    { createPipeline: async () => new ColourPipeline(), stdout: (t) => out.push(t), stderr: () => {} },
  );
  return { dir, db, summary, out: out.join("") };
}

describe("captionkit index / search commands", () => {
  it("indexes a folder and answers a query as JSON, best first", async () => {
    const { dir, db, summary, out } = await indexedFolder();
    expect(summary.added).toBe(4);
    expect(out).toMatch(/4 added/);
    const lines: string[] = [];
    const warnings: string[] = [];
    await runSearch(
      "a blue square",
      { db, format: "json", k: "3" },
      (t) => lines.push(t),
      (t) => warnings.push(t),
    );
    const results = JSON.parse(lines.join(""));
    expect(results[0]).toEqual({
      id: expect.any(Number),
      image: path.join(dir, "blue.png"),
      caption: "A blue square.",
      score: expect.any(Number),
      good: true,
    });
    // the index has neither the caption model's grids nor an embedding model: the default method could
    // not be used, and it says so
    expect(warnings.join("")).toMatch(/ranked by fts, not generative: .*; no joint-embedding model/);
  });

  it("says when nothing matches well, in text and in JSON", async () => {
    const { db } = await indexedFolder();
    const text: string[] = [];
    await runSearch(
      "a purple cat",
      { db, method: "fts" },
      (t) => text.push(t),
      () => {},
    );
    expect(text.join("")).toMatch(/^no good match among 4 indexed images/);
    const json: string[] = [];
    await runSearch(
      "a purple square",
      { db, method: "fts", format: "json", includeWeak: true },
      (t) => json.push(t),
      () => {},
    );
    const weak = JSON.parse(json.join(""));
    expect(weak.length).toBe(4);
    expect(weak.every((r: { good: boolean }) => !r.good)).toBe(true);
  });

  it("answers a --queries file with one JSON line per query", async () => {
    const { dir, db } = await indexedFolder();
    const queries = path.join(dir, "queries.txt");
    await writeFile(queries, "red\n\ngreen square\n");
    const lines: string[] = [];
    await runSearch(
      undefined,
      { db, queries, method: "fts" },
      (t) => lines.push(t),
      () => {},
    );
    const parsed = lines
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(parsed.map((p) => p.query)).toEqual(["red", "green square"]);
    expect(parsed[1].results[0].image).toBe(path.join(dir, "green.png"));
  });

  it("rejects bad options with a message that says what to do", async () => {
    const { db } = await indexedFolder();
    await expect(runSearch("x", { db, method: "magic" as "fts" }, () => {})).rejects.toThrow(/--method/);
    await expect(runSearch(undefined, { db }, () => {})).rejects.toThrow(/--queries/);
  });

  it.skipIf(!existsSync(path.join(repoRoot, "dist/cli/main.js")))("runs as the built CLI", async () => {
    const { dir, db } = await indexedFolder();
    const { stdout } = await promisify(execFile)(process.execPath, [
      bin,
      "search",
      "yellow",
      "--db",
      db,
      "--format",
      "json",
    ]);
    expect(JSON.parse(stdout)[0].image).toBe(path.join(dir, "yellow.png"));
    const failed = await promisify(execFile)(process.execPath, [
      bin,
      "search",
      "x",
      "--db",
      path.join(dir, "none.sqlite"),
    ]).catch((error: { stderr: string; code: number }) => error);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(/captionkit: no photo index .*captionkit index/);
  });
});
