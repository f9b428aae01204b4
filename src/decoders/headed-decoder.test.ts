import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../data/vocabulary.js";
import { createEncoder } from "../encoders/registry.js";
import { syntheticBatch } from "../encoders/test-utils/contract.js";
import { loadModel } from "../model/load.js";
import { saveModel } from "../model/single.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { applyWasmKernelFixes } from "../tfjs/kernel-fixes.js";
import { maxAbsDifference } from "../tfjs/test-utils/random.js";
import { CenterNetTail } from "./centernet-tail.js";
import { createDecoder } from "./factory.js";
import { HeadedDecoder } from "./headed-decoder.js";
import { imageVectorParts, imageVectors } from "./image-vectors.js";
import { ParamInit } from "./params.js";
import { tinyTransformer } from "./test-utils/tiny.js";
import type { DecoderConfig, DecoderInputs, DecoderShape } from "./types.js";

const shape: DecoderShape = { vocabSize: 12, regions: 196, featureDim: 120, pooledDim: 120 };
const config: DecoderConfig = { ...tinyTransformer(), featureHead: { kind: "centernet-tail", gridPool: 2 } };

function cacheLike(batch: number, seed: number): DecoderInputs {
  const init = new ParamInit(seed);
  return {
    grid: tf.tensor3d(init.uniform(batch * 196 * 120, 2), [batch, 196, 120]),
    pooled: tf.zeros([batch, 120]) as tf.Tensor2D,
  };
}

const tokens = () =>
  tf.tensor2d(
    [
      [1, 5, 9, 4, 2],
      [1, 7, 3, 2, 0],
    ],
    [2, 5],
    "int32",
  );

describe("CenterNetTail", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
  });

  it("reproduces CenterNet's neck and expand cuts from the block-12 features, and their 2x2 means", async () => {
    // one joined encoder: the three cuts come from one run of the graph
    const encoder = await createEncoder(
      "centernet_448_block12_grid14+centernet_448_grid14+centernet_448_expand_grid14",
    );
    const out = await encoder.encode(syntheticBatch(encoder, 2), 2);
    encoder.dispose();
    const channels = 120 + 480 + 720;
    const slice = (from: number, width: number) => {
      const values = new Float32Array(2 * 196 * width);
      for (let row = 0; row < 2 * 196; row++) {
        values.set(out.grid.subarray(row * channels + from, row * channels + from + width), row * width);
      }
      return values;
    };
    const input = tf.tensor3d(slice(0, 120), [2, 196, 120]);
    for (const [output, from, width] of [
      ["neck", 120, 480],
      ["expand", 600, 720],
    ] as const) {
      const expected = slice(from, width);
      const tail = new CenterNetTail(1, output);
      const fine = tail.apply(input);
      const { worst, scale } = maxAbsDifference(fine.grid.dataSync(), expected);
      expect(scale, output).toBeGreaterThan(0.5);
      // float16-rounded activation constants and the ONNX runtime's arithmetic leave ~1e-3 of the scale
      expect(worst, output).toBeLessThan(scale * 3e-3);
      tail.dispose();

      const pooledTail = new CenterNetTail(2, output);
      const coarse = pooledTail.apply(input);
      expect(coarse.grid.shape).toEqual([2, 49, width]);
      const means = fine.grid.reshape([2, 7, 2, 7, 2, width]).mean([2, 4]).dataSync();
      const coarseGrid = coarse.grid.dataSync();
      for (let i = 0; i < means.length; i += 97) expect(coarseGrid[i]).toBeCloseTo(means[i] as number, 5);
      const pooled = coarse.pooled.dataSync();
      const gridMean = fine.grid.mean(1).dataSync();
      for (let i = 0; i < pooled.length; i += 11) expect(pooled[i]).toBeCloseTo(gridMean[i] as number, 5);
      tf.dispose([fine.grid, fine.pooled, coarse.grid, coarse.pooled]);
      pooledTail.dispose();
    }
    input.dispose();
  });

  it("refuses features of another shape", () => {
    const tail = new CenterNetTail(1);
    expect(() => tail.outputShape({ ...shape, featureDim: 480 })).toThrow(/centernet_448_block12_grid14/);
    expect(tail.outputShape(shape)).toEqual({ ...shape, regions: 196, featureDim: 480, pooledDim: 480 });
    tail.dispose();
    const expand = new CenterNetTail(2, "expand");
    expect(expand.outputShape(shape)).toEqual({ ...shape, regions: 49, featureDim: 720, pooledDim: 720 });
    // no weights past the cut it hands on
    expect([...expand.variables.keys()].filter((n) => n.startsWith("centernet_tail/block14/"))).toEqual([
      "centernet_tail/block14/expand/kernel",
      "centernet_tail/block14/expand/bias",
      "centernet_tail/block14/depthwise/kernel",
      "centernet_tail/block14/depthwise/bias",
    ]);
    expect(expand.variables.has("centernet_tail/neck/kernel")).toBe(false);
    expand.dispose();
  });
});

describe("HeadedDecoder", () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend("wasm");
    applyWasmKernelFixes();
    dir = await mkdtemp(path.join(os.tmpdir(), "captionkit-headed-"));
  });
  afterAll(async () => {
    tf.setBackend("wasm");
    await rm(dir, { recursive: true, force: true });
  });

  it("has the head's variables and the inner decoder's, and feeds the inner decoder the head's output", () => {
    const decoder = createDecoder(config, shape, 4);
    expect(decoder).toBeInstanceOf(HeadedDecoder);
    const names = [...decoder.variables.keys()];
    expect(names.filter((n) => n.startsWith("centernet_tail/"))).toHaveLength(22);
    expect(names).toContain("transformer/memory/grid/kernel");
    expect(decoder.variables.get("transformer/memory/grid/kernel")?.shape).toEqual([480, 8]);
    expect(decoder.variables.get("transformer/memory/positions")?.shape).toEqual([50, 8]);

    const inner = createDecoder(
      tinyTransformer(),
      { ...shape, regions: 49, featureDim: 480, pooledDim: 480 },
      4,
    );
    const tail = new CenterNetTail(2);
    const x = cacheLike(2, 1);
    const viaHead = decoder.forward(x, tokens(), false).logits.dataSync();
    const headOut = tail.apply(x.grid);
    const direct = inner.forward(headOut, tokens(), false).logits.dataSync();
    expect(Array.from(viaHead)).toEqual(Array.from(direct));
    // its image vectors (for caption memories) are the head's pooled output, not the cache's
    expect(imageVectorParts(decoder)).toEqual([480]);
    expect(Array.from(imageVectors(decoder, x).dataSync())).toEqual(Array.from(headOut.pooled.dataSync()));
    decoder.dispose();
    inner.dispose();
    tail.dispose();
  });

  it("runs the head once per image when captions share images (imageRows)", () => {
    const decoder = createDecoder(config, shape, 4);
    const one = cacheLike(1, 2);
    const rows = tf.tensor1d([0, 0], "int32");
    const twice = { grid: tf.concat([one.grid, one.grid]), pooled: tf.concat([one.pooled, one.pooled]) };
    const shared = decoder.forward(one, tokens(), false, rows).logits;
    const repeated = decoder.forward(twice as DecoderInputs, tokens(), false).logits;
    expect(shared.shape).toEqual([2, 5, 12]);
    expect(maxAbsDifference(shared.dataSync(), repeated.dataSync()).worst).toBeLessThan(1e-5);
    tf.dispose([one.grid, one.pooled, rows, twice.grid, twice.pooled, shared, repeated]);
    decoder.dispose();
  });

  it("generates step by step what teacher forcing gives, without leaking tensors", () => {
    const decoder = createDecoder(config, shape, 5);
    const x = cacheLike(2, 2);
    const rows = [
      [1, 5, 9, 4, 2],
      [1, 7, 3, 2, 0],
    ];
    const forced = tf.tidy(() =>
      tf.logSoftmax(decoder.forward(x, tokens(), false).logits).arraySync(),
    ) as number[][][];
    const before = tf.memory().numTensors;
    let state = decoder.start(x);
    for (let t = 0; t < 3; t++) {
      const previous = tf.tensor1d([rows[0]?.[t] ?? 0, rows[1]?.[t] ?? 0], "int32");
      const step = decoder.step(state, previous);
      const got = step.logProbs.arraySync() as number[][];
      for (let b = 0; b < 2; b++) {
        for (let v = 0; v < shape.vocabSize; v++) {
          expect(got[b]?.[v]).toBeCloseTo(forced[b]?.[t]?.[v] as number, 4);
        }
      }
      tf.dispose(Object.values(state));
      step.logProbs.dispose();
      state = step.state;
      previous.dispose();
    }
    tf.dispose(Object.values(state));
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });

  it("takes the same gradients for the head on wasm as on the cpu backend", () => {
    const gradsOn = (backend: "wasm" | "cpu"): Map<string, Float32Array> => {
      tf.setBackend(backend);
      const decoder = createDecoder(config, shape, 6);
      const names = new Map([...decoder.variables].map(([name, v]) => [v.name, name]));
      const x = cacheLike(2, 3);
      const t = tokens();
      const { grads } = tf.variableGrads(
        () =>
          tf
            .logSoftmax(decoder.forward(x, t, false).logits)
            .mean()
            .neg() as tf.Scalar,
      );
      const out = new Map<string, Float32Array>();
      for (const [tfName, grad] of Object.entries(grads)) {
        out.set(names.get(tfName) as string, Float32Array.from(grad.dataSync() as Float32Array));
      }
      tf.dispose([...Object.values(grads), x.grid, x.pooled, t]);
      decoder.dispose();
      return out;
    };
    const cpu = gradsOn("cpu");
    const wasm = gradsOn("wasm");
    for (const name of [
      "centernet_tail/block13/expand/kernel",
      "centernet_tail/block13/depthwise/kernel",
      "centernet_tail/block14/excite/bias",
      "centernet_tail/neck/kernel",
    ]) {
      const { worst, scale } = maxAbsDifference(
        wasm.get(name) as Float32Array,
        cpu.get(name) as Float32Array,
      );
      expect(scale, name).toBeGreaterThan(0);
      expect(worst, name).toBeLessThan(scale * 1e-3);
    }
  });

  it("saves and loads with its head", async () => {
    tf.setBackend("wasm");
    const decoder = createDecoder(config, shape, 7);
    const kernel = decoder.variables.get("centernet_tail/neck/kernel") as tf.Variable;
    kernel.assign(kernel.mul(1.5)); // moved away from the graph's weights, as training does
    await saveModel(
      dir,
      decoder,
      {
        name: "headed",
        encoder: "centernet_448_block12_grid14",
        vocabulary: {
          tokens: [...SPECIAL_TOKENS, ...Array.from({ length: 8 }, (_, i) => `w${i}`)],
          minCount: 1,
          maxLength: 8,
        },
        preprocessing: { size: 448, normalization: { mean: [0, 0, 0], std: [1, 1, 1] }, fit: "fill" },
      },
      { dtype: "float32" },
    );
    const loaded = await loadModel(dir);
    expect(loaded.decoder.config).toEqual(config);
    const x = cacheLike(2, 4);
    const a = decoder.forward(x, tokens(), false).logits.dataSync();
    const b = loaded.decoder.forward(x, tokens(), false).logits.dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i] as number, 5);
    decoder.dispose();
    loaded.decoder.dispose();
  });
});
