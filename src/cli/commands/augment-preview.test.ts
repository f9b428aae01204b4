import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeImage, quadrantImage } from "../../../test/fixtures/images.js";
import { buildProgram } from "../main.js";

let dir: string;
let image: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "captionkit-preview-"));
  image = join(dir, "q.png");
  await writeFile(image, await encodeImage(quadrantImage(40, 30), "png"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) =>
  buildProgram()
    .exitOverride()
    .parseAsync(["node", "captionkit", ...args]);

describe("captionkit augment-preview", () => {
  it("writes a 3x3 grid PNG whose top-left tile is the original", async () => {
    const out = join(dir, "grid.png");
    await run("augment-preview", image, "--out", out, "--size", "32", "--seed", "3");
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe("png");
    const gap = 4;
    expect([meta.width, meta.height]).toEqual([3 * 32 + 4 * gap, 3 * 32 + 4 * gap]);
    // Top-left tile: red in its top-left quadrant, green top-right.
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) =>
      Array.from(data.subarray((y * info.width + x) * info.channels).subarray(0, 3));
    expect(at(gap + 8, gap + 8)).toEqual([255, 0, 0]);
    expect(at(gap + 24, gap + 8)).toEqual([0, 255, 0]);
  });

  it("is deterministic under --seed and honours --config and --count", async () => {
    const config = join(dir, "aug.json");
    await writeFile(config, JSON.stringify({ rotation: 0, flip: 1 }));
    const a = join(dir, "a.png");
    const b = join(dir, "b.png");
    await run("augment-preview", image, "--out", a, "--size", "24", "--count", "3", "--config", config);
    await run("augment-preview", image, "--out", b, "--size", "24", "--count", "3", "--config", config);
    const [ra, rb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
    expect(ra.equals(rb)).toBe(true);
    expect((await sharp(a).metadata()).width).toBe(2 * 24 + 3 * 4);
  });

  it("rejects unknown config keys and bad images with a message", async () => {
    const config = join(dir, "bad.json");
    await writeFile(config, JSON.stringify({ rotate: 5 }));
    await expect(
      run("augment-preview", image, "--out", join(dir, "x.png"), "--config", config),
    ).rejects.toThrow(/rotate/);
    const text = join(dir, "text.png");
    await writeFile(text, "hello");
    await expect(run("augment-preview", text, "--out", join(dir, "y.png"))).rejects.toThrow(
      /not a recognised image/,
    );
  });
});
