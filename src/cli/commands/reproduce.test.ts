import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MARKER_FILE } from "../../training/recipe.js";
import { DEFAULT_RECIPE } from "../../training/recipe-default.js";
import { buildProgram } from "../main.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "captionkit-reproduce-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("captionkit reproduce --dry-run", () => {
  it("lists the default recipe's steps and which of them are done, running nothing", async () => {
    const first = DEFAULT_RECIPE[0]!.name;
    await mkdir(path.join(root, first), { recursive: true });
    await writeFile(path.join(root, first, MARKER_FILE), JSON.stringify({ seconds: 65, outputs: {} }));
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await buildProgram().parseAsync([
        "node",
        "captionkit",
        "reproduce",
        "--dataset",
        "none.tsv",
        "--out",
        root,
        "--dry-run",
      ]);
    } finally {
      spy.mockRestore();
    }
    const lines = written.join("").trim().split("\n");
    expect(lines).toHaveLength(DEFAULT_RECIPE.length);
    expect(lines[0]).toBe(`[1/${DEFAULT_RECIPE.length}] ${first}: done (took 1 min 05 s)`);
    expect(lines.at(-1)).toBe(`[${DEFAULT_RECIPE.length}/${DEFAULT_RECIPE.length}] model: to run`);
  });
});
