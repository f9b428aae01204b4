import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openFeatureStore } from "../../features/reader.js";
import { featureFixture } from "../../features/test-utils/fixtures.js";
import { buildProgram } from "../main.js";

let dir: string;
let tsv: string;
let encoder: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-features-cli-"));
  const fixture = await featureFixture(dir, 3);
  encoder = fixture.encoder;
  const lines = ["image\tindex\tcaption"];
  for (const img of fixture.images) lines.push(`${img.id}\t0\ta pattern of stripes`);
  tsv = path.join(dir, "captions.tsv");
  await writeFile(tsv, `${lines.join("\n")}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "captionkit", "features", ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

describe("captionkit features", () => {
  it("writes a store named after encoder, size, split and dtype, and resumes it", async () => {
    const args = ["--dataset", tsv, "--images", path.join(dir, "images"), "--encoder", encoder];
    const out = await run([...args, "--out", path.join(dir, "out"), "--workers", "0", "--augment", "1"]);
    const storeDir = out.split("\n")[0]!;
    expect(path.basename(storeDir)).toBe("onnx-encoder-8px-all-float16-aug1");
    expect(out).toMatch(/3 images x 2 views, grid 4x4x4, pooled 4, float16; 0 unreadable/);
    const store = openFeatureStore(storeDir);
    expect(store.ids).toEqual(["img0.png", "img1.png", "img2.png"]);
    store.close();
    const again = await run([...args, "--out", path.join(dir, "out"), "--workers", "0", "--augment", "1"]);
    expect(again).toMatch(/3 resumed from an earlier run/);
  });

  it("explains a bad encoder name or flag", async () => {
    const base = ["--dataset", tsv, "--images", path.join(dir, "images"), "--out", path.join(dir, "out2")];
    await expect(run([...base, "--encoder", "vgg16", "--workers", "0"])).rejects.toThrow(
      /unknown encoder "vgg16"; valid encoders: mobilenet_v2_mid, centernet_224/,
    );
    await expect(run([...base, "--encoder", encoder, "--augment", "-1"])).rejects.toThrow(
      /--augment must be/,
    );
  });
});
