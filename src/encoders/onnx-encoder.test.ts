import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEncoder } from "./registry.js";
import { encoderContract, syntheticBatch } from "./test-utils/contract.js";
import { bias, CH, K, SIZE, weights, writeTinyEncoder } from "./test-utils/tiny-onnx.js";
import type { Encoder } from "./types.js";

/** The same network in plain TypeScript, input NHWC normalized, output [h, w, c] and [c]. */
function reference(x: Float32Array): { grid: number[]; pooled: number[] } {
  const g = SIZE / K;
  const grid: number[] = [];
  const pooled = new Array<number>(CH).fill(0);
  for (let oy = 0; oy < g; oy++)
    for (let ox = 0; ox < g; ox++)
      for (let o = 0; o < CH; o++) {
        let acc = bias[o]!;
        for (let c = 0; c < 3; c++)
          for (let ky = 0; ky < K; ky++)
            for (let kx = 0; kx < K; kx++) {
              const pix = x[((oy * K + ky) * SIZE + ox * K + kx) * 3 + c]!;
              acc += pix * weights[((o * 3 + c) * K + ky) * K + kx]!;
            }
        const v = Math.max(0, acc);
        grid.push(v);
        pooled[o]! += v / (g * g);
      }
  return { grid, pooled };
}

const normalization = { mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3] };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-onnx-"));
  for (const [sub, extra] of [
    ["with-pooled", { pooled: { output: "pooled" } }],
    ["mean-pooled", { pooled: undefined }],
  ] as const) {
    await writeTinyEncoder(path.join(dir, sub), { normalization, ...extra });
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("onnx encoder", () => {
  let encoder: Encoder;
  beforeAll(async () => {
    encoder = await createEncoder(`onnx:${path.join(dir, "with-pooled")}`);
  });
  afterAll(() => encoder.dispose());
  encoderContract(() => encoder);

  it("matches the same arithmetic in plain TypeScript", async () => {
    expect(encoder.gridShape).toEqual([4, 4, CH]);
    expect(encoder.pooledSize).toBe(CH);
    const x = syntheticBatch(encoder, 2);
    const out = await encoder.encode(x, 2);
    const per = SIZE * SIZE * 3;
    for (let i = 0; i < 2; i++) {
      const ref = reference(x.subarray(i * per, (i + 1) * per));
      const grid = Array.from(out.grid.subarray(i * 16 * CH, (i + 1) * 16 * CH));
      grid.forEach((v, j) => {
        expect(v).toBeCloseTo(ref.grid[j]!, 4);
      });
      Array.from(out.pooled.subarray(i * CH, (i + 1) * CH)).forEach((v, j) => {
        expect(v).toBeCloseTo(ref.pooled[j]!, 4);
      });
    }
  });

  it("pools the grid itself when no pooled output is named", async () => {
    const meanEnc = await createEncoder(`onnx:${path.join(dir, "mean-pooled")}`);
    try {
      const x = syntheticBatch(meanEnc, 1);
      const [a, b] = [await meanEnc.encode(x, 1), await encoder.encode(x, 1)];
      Array.from(a.pooled).forEach((v, j) => {
        expect(v).toBeCloseTo(b.pooled[j]!, 5);
      });
    } finally {
      meanEnc.dispose();
    }
  });

  it("explains a bad or missing config", async () => {
    await expect(createEncoder(`onnx:${path.join(dir, "nope")}`)).rejects.toThrow(
      /cannot read .*encoder\.json/,
    );
    await writeFile(
      path.join(dir, "mean-pooled", "encoder.json"),
      JSON.stringify({ inputSize: SIZE, normalization, grid: { output: "grid", layout: "NCHW" }, color: 1 }),
    );
    await expect(createEncoder(`onnx:${path.join(dir, "mean-pooled")}`)).rejects.toThrow(/color/);
    await writeFile(
      path.join(dir, "mean-pooled", "encoder.json"),
      JSON.stringify({
        model: "tiny.onnx",
        inputSize: SIZE,
        normalization,
        grid: { output: "feat", layout: "NCHW" },
      }),
    );
    await expect(createEncoder(`onnx:${path.join(dir, "mean-pooled")}`)).rejects.toThrow(/no output "feat"/);
  });
});
