import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SPECIAL_TOKENS } from "../../data/vocabulary.js";
import { createDecoder } from "../../decoders/factory.js";
import { mobilenetV2Mid } from "../../encoders/builtin.js";
import { saveModel } from "../../model/single.js";
import { initBackend } from "../../tfjs/backend.js";

/**
 * A model folder the real CLI can load: a tiny random Show-Attend-Tell decoder on the built-in
 * mobilenet_v2_mid encoder (weights from node_modules). Its captions are nonsense; the tests only check
 * the plumbing around them.
 */
export async function writeTinyModel(): Promise<string> {
  await initBackend("wasm");
  const dir = await mkdtemp(join(tmpdir(), "captionkit-tiny-model-"));
  const [gridH, gridW, channels] = mobilenetV2Mid.gridShape;
  const words = ["a", "dog", "cat", "runs", "on", "the", "grass"];
  const decoder = createDecoder(
    { kind: "show-attend-tell", embedDim: 8, hiddenDim: 8, attentionDim: 8, dropout: 0 },
    {
      vocabSize: SPECIAL_TOKENS.length + words.length,
      regions: gridH * gridW,
      featureDim: channels,
      pooledDim: mobilenetV2Mid.pooledSize,
    },
    3,
  );
  await saveModel(dir, decoder, {
    name: "tiny-random",
    encoder: mobilenetV2Mid.name,
    vocabulary: { tokens: [...SPECIAL_TOKENS, ...words], minCount: 1, maxLength: 6 },
    preprocessing: {
      size: mobilenetV2Mid.inputSize,
      normalization: mobilenetV2Mid.normalization,
      fit: "fill",
    },
  });
  decoder.dispose();
  return dir;
}
