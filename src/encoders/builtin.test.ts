import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tf } from "../tfjs/backend.js";
import { createEncoder, type EncoderRuntime, encoderNames } from "./registry.js";
import { encoderContract, syntheticBatch } from "./test-utils/contract.js";
import type { Encoder } from "./types.js";

// default runtime (onnx) for every name; tfjs for one, to keep that runtime under the contract too
for (const [name, runtime] of [
  ["mobilenet_v2_mid", "onnx"],
  ["centernet_224", "onnx"],
  ["centernet_448", "onnx"],
  ["inception_v3", "onnx"],
  ["mobilenet_v2_mid+centernet_224", "onnx"],
  ["centernet_224", "tfjs"],
] as const) {
  describe(`encoder ${name} (${runtime})`, () => {
    let encoder: Encoder;
    beforeAll(async () => {
      encoder = await createEncoder(name, { runtime });
    });
    afterAll(() => encoder.dispose());
    encoderContract(() => encoder, { tolerance: 1e-3 });
  });
}

describe("built-in encoder details", () => {
  it("declares the documented shapes", async () => {
    const mob = await createEncoder("mobilenet_v2_mid");
    const cen = await createEncoder("centernet_224");
    const both = await createEncoder("mobilenet_v2_mid+centernet_224");
    try {
      expect([mob.gridShape, mob.pooledSize]).toEqual([[7, 7, 1792], 1792]);
      expect([cen.gridShape, cen.pooledSize]).toEqual([[7, 7, 480], 480]);
      expect([both.gridShape, both.pooledSize]).toEqual([[7, 7, 2272], 2272]);
      // concatenation: each part's channels sit side by side in every region
      const x = syntheticBatch(mob, 1);
      const a = await mob.encode(x, 1);
      const b = await cen.encode(syntheticBatch(cen, 1), 1);
      const ab = await both.encode(x, 1);
      const region = 10;
      expect(ab.grid[region * 2272 + 5]).toBeCloseTo(a.grid[region * 1792 + 5]!, 5);
      expect(ab.grid[region * 2272 + 1792 + 7]).toBeCloseTo(b.grid[region * 480 + 7]!, 3);
      expect(ab.pooled[1792 + 3]).toBeCloseTo(b.pooled[3]!, 3);
    } finally {
      for (const e of [mob, cen, both]) e.dispose();
    }
  });

  it("runs cuts of one graph once for all of them, with the same features as separate runs", async () => {
    const joined = await createEncoder("centernet_448_grid14+centernet_448_expand_grid14");
    const grid14 = await createEncoder("centernet_448_grid14");
    const expand = await createEncoder("centernet_448_expand_grid14");
    try {
      const x = syntheticBatch(grid14, 2);
      // count the shared onnxruntime session's runs
      let runs = 0;
      type Session = { run: (...args: unknown[]) => unknown };
      const parts = (joined as unknown as { parts: Array<{ shared: { session: Session } }> }).parts;
      expect(parts[0]!.shared).toBe(parts[1]!.shared);
      const sharedSession = parts[0]!.shared.session;
      const run = sharedSession.run.bind(sharedSession);
      sharedSession.run = (...args: unknown[]) => {
        runs++;
        return run(...args);
      };
      const both = await joined.encode(x, 2);
      expect(runs).toBe(1); // maxBatch 4 > 2 images: one graph run gave both cuts
      const a = await grid14.encode(x, 2);
      const b = await expand.encode(x, 2);
      expect(both.grid.length).toBe(2 * 196 * (480 + 720));
      for (let row = 0; row < 2 * 196; row += 37) {
        for (const c of [0, 100, 479]) {
          expect(both.grid[row * 1200 + c]).toBeCloseTo(a.grid[row * 480 + c]!, 4);
        }
        for (const c of [0, 300, 719]) {
          expect(both.grid[row * 1200 + 480 + c]).toBeCloseTo(b.grid[row * 720 + c]!, 4);
        }
      }
      joined.dispose();
      await expect(joined.encode(x, 2)).rejects.toThrow(/disposed/);
    } finally {
      grid14.dispose();
      expand.dispose();
    }
  });

  it("centernet's pooled vector is the spatial mean of its grid", async () => {
    const cen = await createEncoder("centernet_224");
    try {
      const out = await cen.encode(syntheticBatch(cen, 1), 1);
      let sum = 0;
      for (let r = 0; r < 49; r++) sum += out.grid[r * 480 + 11]!;
      expect(out.pooled[11]).toBeCloseTo(sum / 49, 4);
    } finally {
      cen.dispose();
    }
  });

  it("frees every tensor on dispose (tfjs), holds none after conversion (onnx)", async () => {
    const before = tf.memory().numTensors;
    const enc = await createEncoder("centernet_224", { runtime: "tfjs" });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    enc.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const onnx = await createEncoder("centernet_224");
    expect(tf.memory().numTensors).toBe(before);
    onnx.dispose();
  });

  it("rejects an unknown name with the list of valid ones", async () => {
    expect(encoderNames()).toEqual([
      "mobilenet_v2_mid",
      "centernet_224",
      "centernet_448",
      "centernet_448_expand",
      "centernet_448_grid14",
      "centernet_448_expand_grid14",
      "centernet_448_block12_grid14",
      "inception_v3",
      "colour_224",
      "colour_448",
    ]);
    await expect(createEncoder("resnet50")).rejects.toThrow(
      /unknown encoder "resnet50"; valid encoders: mobilenet_v2_mid, centernet_224, centernet_448, centernet_448_expand, centernet_448_grid14, centernet_448_expand_grid14, centernet_448_block12_grid14, inception_v3, colour_224, colour_448/,
    );
    await expect(createEncoder("onnx:")).rejects.toThrow(/names no folder/);
    await expect(
      createEncoder("centernet_224", { runtime: "torch" as unknown as EncoderRuntime }),
    ).rejects.toThrow(/unknown encoder runtime "torch"; valid runtimes: onnx, tfjs/);
  });
});
