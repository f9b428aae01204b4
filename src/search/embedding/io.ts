import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { decodeFloat16, encodeFloat16 } from "../../core/float16.js";
import { HUBNESS_BANK, JointEmbedding, type ParamMap } from "./model.js";
import { TextFeaturizer } from "./text-features.js";

const manifestSchema = z
  .object({
    kind: z.literal("joint-embedding"),
    config: z
      .object({
        encoder: z.string(),
        imageParts: z.array(z.number().int().positive()),
        imageHidden: z.array(z.number().int().positive()),
        wordDim: z.number().int().positive(),
        textHidden: z.array(z.number().int().positive()),
        jointDim: z.number().int().positive(),
      })
      .strict(),
    featurizer: z.object({ terms: z.array(z.string()) }).strict(),
    /** k and beta; the bank is the weight "hubness/bank" (text embeddings, no text). */
    hubness: z
      .object({
        k: z.number().int().positive(),
        beta: z.number().nonnegative(),
        /** Legacy: models saved before the bank became a weight listed its caption texts here. */
        texts: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
    weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) }).strict()),
    /** Free-form facts about the run (data, epochs, validation recall). */
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const WEIGHTS_FILE = "weights.f16.bin";

/** Saves model.json + float16 weights (half the size of float32; cosine ranks do not notice). */
export async function saveJointEmbedding(
  model: JointEmbedding,
  dir: string,
  training?: Record<string, unknown>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const names = [...model.params.keys()].sort();
  const weights = names.map((name) => ({ name, shape: model.param(name).shape }));
  const blob = Buffer.concat(names.map((name) => encodeFloat16(model.param(name).values)));
  await writeFile(path.join(dir, WEIGHTS_FILE), blob);
  const manifest = { ...model.toJSON(), weights, ...(training ? { training } : {}) };
  await writeFile(path.join(dir, "model.json"), `${JSON.stringify(manifest, null, 1)}\n`);
}

export async function loadJointEmbedding(dir: string): Promise<JointEmbedding> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, "model.json"), "utf8");
  } catch {
    throw new Error(`no joint-embedding model in ${dir} (expected model.json and ${WEIGHTS_FILE})`);
  }
  const manifest = manifestSchema.parse(JSON.parse(raw));
  const blob = await readFile(path.join(dir, WEIGHTS_FILE));
  const params: ParamMap = new Map();
  let offset = 0;
  for (const { name, shape } of manifest.weights) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = decodeFloat16(blob.subarray(offset, offset + count * 2));
    params.set(name, { shape, values });
    offset += count * 2;
  }
  if (offset !== blob.byteLength) throw new Error(`${dir}/${WEIGHTS_FILE} does not match model.json`);
  const featurizer = new TextFeaturizer(manifest.featurizer);
  const hubness = manifest.hubness;
  if (hubness?.texts && !params.has(HUBNESS_BANK)) {
    // Legacy format: embed the listed texts into a bank now; saving the model drops the texts.
    const model = new JointEmbedding(manifest.config, featurizer, params);
    model.setHubnessBank(hubness.texts, hubness.k, hubness.beta);
    return model;
  }
  return new JointEmbedding(
    manifest.config,
    featurizer,
    params,
    hubness && { k: hubness.k, beta: hubness.beta },
  );
}
