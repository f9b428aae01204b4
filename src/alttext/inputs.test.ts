import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandInputs } from "./inputs.js";

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "captionkit-inputs-"));
  await mkdir(join(root, "photos", "2024"), { recursive: true });
  for (const file of [
    "photos/b.jpg",
    "photos/a.PNG",
    "photos/notes.txt",
    "photos/a.PNG.xmp",
    "photos/2024/c.webp",
    "other.gif",
  ]) {
    await writeFile(join(root, file), "x");
  }
  return root;
}

describe("expandInputs", () => {
  it("lists a folder's own image files, sorted, and descends only with recursive", async () => {
    const cwd = await tree();
    expect(await expandInputs(["photos"], { cwd })).toEqual(["photos/a.PNG", "photos/b.jpg"]);
    expect(await expandInputs(["photos"], { cwd, recursive: true })).toEqual([
      "photos/2024/c.webp",
      "photos/a.PNG",
      "photos/b.jpg",
    ]);
  });

  it("expands globs, keeps explicit files and missing paths, and drops duplicates", async () => {
    const cwd = await tree();
    expect(
      await expandInputs(["photos/**/*.{jpg,webp}", "photos/b.jpg", "photos/notes.txt", "gone.jpg"], { cwd }),
    ).toEqual(["photos/2024/c.webp", "photos/b.jpg", "photos/notes.txt", "gone.jpg"]);
  });

  it("keeps absolute paths absolute", async () => {
    const cwd = await tree();
    expect(await expandInputs([join(cwd, "other.gif"), join(cwd, "photos")], { cwd: "/" })).toEqual([
      join(cwd, "other.gif"),
      join(cwd, "photos", "a.PNG"),
      join(cwd, "photos", "b.jpg"),
    ]);
  });
});
