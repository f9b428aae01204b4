import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoadedModel } from "../../model/format.js";
import { loadModel } from "../../model/load.js";
import { readModelFile } from "../../model/single.js";
import { initBackend } from "../../tfjs/backend.js";
import { applyWasmKernelFixes } from "../../tfjs/kernel-fixes.js";
import { TfjsRuntime } from "../tfjs-runtime.js";
import { createOnnxRuntime, type OnnxDecoderRuntime } from "./runtime.js";
import { expectParity, mirrored, randomBatch } from "./test-utils/parity.js";

const MODEL = fileURLToPath(new URL("../../../models/default", import.meta.url));

describe.skipIf(!existsSync(path.join(MODEL, "model.json")))(
  "the shipped default model on onnxruntime",
  () => {
    let model: LoadedModel;
    let onnx: OnnxDecoderRuntime;
    let cacheDir: string;

    beforeAll(async () => {
      await initBackend("wasm");
      applyWasmKernelFixes();
      cacheDir = await mkdtemp(path.join(os.tmpdir(), "captionkit-onnx-default-"));
      model = await loadModel(MODEL);
      onnx = await createOnnxRuntime(model.decoder, { weightsDigest: model.weightsDigest, cacheDir });
    });
    afterAll(async () => {
      onnx?.dispose();
      model?.decoder.dispose();
      await rm(cacheDir, { recursive: true, force: true });
    });

    it("finds its graphs from the members' model.json alone, without loading the decoder", async () => {
      const members = await Promise.all(
        ["member-1", "member-2"].map(async (m) => {
          const file = await readModelFile(path.join(MODEL, m));
          return { config: file.decoder, shape: file.shape };
        }),
      );
      const load = () => Promise.reject(new Error("the cached graphs should have been used"));
      const fromSpecs = await createOnnxRuntime(
        { members, load },
        { weightsDigest: model.weightsDigest, cacheDir },
      );
      expect(fromSpecs.built).toBe(false);
      expect(fromSpecs.graphFolder).toBe(onnx.graphFolder);
      expect(fromSpecs.shape).toEqual(model.decoder.shape);
      expect(fromSpecs.maxWords).toBe(new TfjsRuntime(model.decoder).maxWords);
      fromSpecs.dispose();
    });

    it("matches tfjs step by step, with and without the mirror view", () => {
      const tfjs = new TfjsRuntime(model.decoder);
      for (const seed of [1, 2]) {
        // block-12 CenterNet features are post-activation values of a few units
        const batch = randomBatch(2, model.decoder.shape, seed, 2);
        expectParity(tfjs, onnx, [batch], { steps: 3 });
        expectParity(tfjs, onnx, [batch, mirrored(batch, 14)], { steps: 3 });
      }
    });
  },
);
