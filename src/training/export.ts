import { Vocabulary } from "../data/vocabulary.js";
import { createDecoder } from "../decoders/factory.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { openFeatureStore } from "../features/reader.js";
import type { PreprocessSpec } from "../image/preprocess.js";
import { assignWeights, type CheckpointManifest, loadCheckpoint } from "./checkpoint.js";
import { decoderConfigOf } from "./config.js";
import { exportTrainedModel } from "./run.js";

/** Rebuilds the decoder of a training checkpoint (last.ckpt or best.ckpt) with its weights. */
export function decoderFromCheckpoint(file: string): {
  decoder: CaptionDecoder;
  vocabulary: Vocabulary;
  manifest: CheckpointManifest;
} {
  const { manifest, weights } = loadCheckpoint(file);
  const decoder = createDecoder(decoderConfigOf(manifest.config), manifest.shape, manifest.config.seed);
  assignWeights(decoder.variables, weights, decoder.buffers);
  return { decoder, vocabulary: new Vocabulary(manifest.vocabulary), manifest };
}

/**
 * Writes a servable model folder from a checkpoint, e.g. to ship the state of a run that is still going
 * or was stopped between epochs. Preprocessing comes from the first feature cache of the run's config.
 */
export async function exportCheckpoint(
  file: string,
  outDir: string,
  extra: { name?: string; metrics?: Record<string, unknown>; training?: Record<string, unknown> } = {},
): Promise<void> {
  const { decoder, vocabulary, manifest } = decoderFromCheckpoint(file);
  const dirs =
    typeof manifest.config.data.features === "string"
      ? [manifest.config.data.features]
      : manifest.config.data.features;
  const store = openFeatureStore(dirs[0]!, { allowPartial: true });
  const preprocessing: PreprocessSpec = {
    size: store.manifest.inputSize,
    normalization: store.manifest.normalization,
    fit: "fill",
  };
  store.close();
  await exportTrainedModel(outDir, decoder, {
    vocabulary,
    encoder: manifest.encoder,
    preprocessing,
    name: extra.name,
    metrics: extra.metrics,
    training: {
      config: manifest.config,
      steps: manifest.step,
      epochsCompleted: manifest.epoch,
      trainSeconds: Math.round(manifest.trainSeconds),
      ...(manifest.stage === "xe"
        ? { tokensPerSecond: Math.round(manifest.tokensSeen / Math.max(manifest.trainSeconds, 1e-9)) }
        : {}),
      ...extra.training,
    },
  });
  decoder.dispose();
}
