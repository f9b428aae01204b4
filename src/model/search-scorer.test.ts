import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ENSEMBLE_FORMAT, ensembleFileSchema } from "./format.js";
import { searchScorerDir } from "./load.js";

const ensemble = (extra: object) => ({
  format: ENSEMBLE_FORMAT,
  version: 1,
  name: "two",
  members: ["member-1", "member-2"],
  ...extra,
});

describe("an ensemble's search scorer", () => {
  it("is the member the ensemble names, else the folder itself", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-scorer-"));
    await writeFile(path.join(dir, "model.json"), JSON.stringify(ensemble({ searchScorer: "member-2" })));
    expect(await searchScorerDir(dir)).toBe(path.join(dir, "member-2"));
    await writeFile(path.join(dir, "model.json"), JSON.stringify(ensemble({})));
    expect(await searchScorerDir(dir)).toBe(dir);
    await writeFile(path.join(dir, "model.json"), JSON.stringify({ format: "captionkit-model" }));
    expect(await searchScorerDir(dir)).toBe(dir);
  });

  it("must be one of the members", () => {
    const parsed = ensembleFileSchema.safeParse(ensemble({ searchScorer: "member-3" }));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/one of the members/);
  });
});
