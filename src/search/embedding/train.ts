import { mulberry32 } from "../../core/rng.js";
import { tf } from "../../tfjs/backend.js";
import { evaluateSimilarity, type RetrievalScores } from "../retrieval-metrics.js";
import { JointEmbedding, type JointEmbeddingConfig, prepareImageInput } from "./model.js";
import { embeddingSimilarity } from "./similarity.js";
import type { TextFeaturizer } from "./text-features.js";
import { l2rows, matMul, symmetricInfoNce } from "./tf-ops.js";

/** Images with their captions, as the feature cache and the dataset give them. */
export interface EmbeddingPairs {
  ids: string[];
  /** [images, imageDim] encoder pooled vectors (raw, as cached). */
  pooled: Float32Array;
  /** Human captions per image, same order as ids. */
  captions: string[][];
  /** Augmented views, each laid out like `pooled`; training draws the plain image or one of them. */
  pooledViews?: Float32Array[];
}

export interface EmbeddingTrainOptions {
  // Defaults (measured on Flickr8k; see docs/results/search.md):
  /** Passes over the training images (each pass draws one caption per image). Default 60. */
  epochs?: number;
  /** Pairs per step; every other pair in the batch is a negative. Default 256. */
  batchSize?: number;
  /** Adam step size. Default 2e-3, decayed by cosine to 5% over the run. */
  learningRate?: number;
  /** Dropout on the image input and on the mean term embedding. Default 0.2. */
  dropout?: number;
  /** Each term occurrence of a training caption is left out with this probability. Default 0. */
  termDropout?: number;
  /** L2 penalty on weight matrices and term embeddings (Adam has no decoupled decay in tfjs). Default 0. */
  weightDecay?: number;
  seed?: number;
  /** Held-out pairs scored every `evalEvery` epochs; the best text-to-image R@5+R@10 is kept. */
  validation?: EmbeddingPairs;
  evalEvery?: number;
  log?: (line: string) => void;
}

export interface EmbeddingTrainResult {
  model: JointEmbedding;
  history: { epoch: number; loss: number; validation?: RetrievalScores }[];
  best?: { epoch: number; textToImage: RetrievalScores; imageToText: RetrievalScores };
}

/** Trains a joint embedding with symmetric InfoNCE. Needs initBackend() first (wasm). */
export async function trainJointEmbedding(
  config: JointEmbeddingConfig,
  featurizer: TextFeaturizer,
  train: EmbeddingPairs,
  options: EmbeddingTrainOptions = {},
): Promise<EmbeddingTrainResult> {
  const epochs = options.epochs ?? 60;
  const batchSize = Math.min(options.batchSize ?? 256, train.ids.length);
  const baseRate = options.learningRate ?? 2e-3;
  const dropout = options.dropout ?? 0.2;
  const termDropout = options.termDropout ?? 0;
  const weightDecay = options.weightDecay ?? 0;
  const log = options.log ?? (() => {});
  const random = mulberry32(options.seed ?? 1);
  const model = JointEmbedding.init(config, featurizer, options.seed ?? 1);
  const dim = model.imageDim;
  model.param("image/mean").values.set(columnMean(train.pooled, dim));
  const views = [train.pooled, ...(train.pooledViews ?? [])].map((pooled) => prepareAll(model, pooled));
  const termIds = train.captions.map((caps) => caps.map((c) => featurizer.termIds(c)));

  const variables = new Map<string, tf.Variable>();
  for (const [name, p] of model.params) {
    // tidy frees the initial-value tensor; the variable itself outlives it
    if (name !== "image/mean")
      variables.set(
        name,
        tf.tidy(() => tf.variable(tf.tensor(p.values, p.shape), true, name)),
      );
  }
  const optimizer = tf.train.adam(baseRate);
  const stepsPerEpoch = Math.floor(train.ids.length / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const history: EmbeddingTrainResult["history"] = [];
  let best: EmbeddingTrainResult["best"];
  let bestParams: Map<string, Float32Array> | undefined;
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = shuffle(train.ids.length, random);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      // cosine decay to 5%: the contrastive loss keeps improving slowly, big late steps undo it
      setLearningRate(
        optimizer,
        baseRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps))),
      );
      const rows = order.slice(s * batchSize, (s + 1) * batchSize);
      const x = new Float32Array(rows.length * dim);
      const bag = new Float32Array(rows.length * featurizer.size);
      rows.forEach((image, r) => {
        const inputs = views[Math.floor(random() * views.length)]!;
        x.set(inputs.subarray(image * dim, (image + 1) * dim), r * dim);
        const caps = termIds[image]!;
        const ids = caps[Math.floor(random() * caps.length)]!;
        // term dropout: a caption missing some words is still about the same image
        const kept = termDropout > 0 ? ids.filter(() => random() >= termDropout) : ids;
        featurizer.fillBag(kept.length > 0 ? kept : ids, bag, r);
      });
      const loss = tf.tidy(() => {
        const xt = tf.tensor2d(x, [rows.length, dim]); // [batch, imageDim]
        const bt = tf.tensor2d(bag, [rows.length, featurizer.size]); // [batch, terms]
        const value = optimizer.minimize(() => {
          const img = forwardImage(variables, config, tf.dropout(xt, dropout) as tf.Tensor2D);
          const txt = forwardText(variables, config, bt, dropout);
          // cap the learned scale at 100 as CLIP does, so the softmax cannot collapse
          const scale = tf.exp(tf.minimum(variables.get("logit_scale")!, Math.log(100)));
          const logits = tf.mul(matMul(img, tf.transpose(txt)), scale) as tf.Tensor2D; // [batch, batch]
          const loss = symmetricInfoNce(logits);
          if (weightDecay === 0) return loss;
          const penalties = [...variables].filter(([n]) => n.endsWith("/w") || n === "text/words");
          const l2 = tf.addN(penalties.map(([, v]) => tf.sum(tf.square(v))));
          return tf.add(loss, tf.mul(l2, weightDecay)) as tf.Scalar;
        }, true);
        return value!.dataSync()[0]!;
      });
      lossSum += loss;
    }
    const entry: EmbeddingTrainResult["history"][number] = { epoch, loss: lossSum / stepsPerEpoch };
    const evalEvery = options.evalEvery ?? 5;
    if (options.validation && (epoch % evalEvery === 0 || epoch === epochs)) {
      syncParams(model, variables);
      const scores = evaluateEmbedding(model, options.validation);
      entry.validation = scores.textToImage;
      const key = (r: RetrievalScores) => r["R@5"] + r["R@10"];
      if (!best || key(scores.textToImage) > key(best.textToImage)) {
        best = { epoch, ...scores };
        bestParams = new Map([...model.params].map(([n, p]) => [n, Float32Array.from(p.values)]));
      }
    }
    history.push(entry);
    const v = entry.validation;
    log(
      `epoch ${epoch}/${epochs} loss ${entry.loss.toFixed(4)}` +
        (v
          ? ` held-out t2i R@1 ${v["R@1"].toFixed(3)} R@5 ${v["R@5"].toFixed(3)} R@10 ${v["R@10"].toFixed(3)}`
          : ""),
    );
  }
  syncParams(model, variables);
  if (bestParams) for (const [name, values] of bestParams) model.param(name).values.set(values);
  for (const v of variables.values()) v.dispose();
  optimizer.dispose();
  return { model, history, best };
}

function forwardImage(
  vars: Map<string, tf.Variable>,
  config: JointEmbeddingConfig,
  x: tf.Tensor2D,
): tf.Tensor2D {
  return l2rows(mlp(vars, "image", x, config.imageHidden.length));
}

function forwardText(
  vars: Map<string, tf.Variable>,
  config: JointEmbeddingConfig,
  bag: tf.Tensor2D,
  dropout: number,
): tf.Tensor2D {
  const mean = matMul(bag, vars.get("text/words")! as tf.Tensor2D); // [batch, wordDim]
  return l2rows(mlp(vars, "text", tf.dropout(mean, dropout) as tf.Tensor2D, config.textHidden.length));
}

function mlp(
  vars: Map<string, tf.Variable>,
  prefix: string,
  input: tf.Tensor2D,
  hidden: number,
): tf.Tensor2D {
  let x = input;
  for (let layer = 0; layer <= hidden; layer++) {
    const w = vars.get(`${prefix}/dense${layer}/w`)! as tf.Tensor2D;
    const b = vars.get(`${prefix}/dense${layer}/b`)!;
    x = tf.add(matMul(x, w), b) as tf.Tensor2D; // [batch, width]
    if (layer < hidden) x = tf.relu(x);
  }
  return x;
}

function syncParams(model: JointEmbedding, vars: Map<string, tf.Variable>): void {
  for (const [name, v] of vars) model.param(name).values.set(v.dataSync() as Float32Array);
}

/** Text-to-image and image-to-text recall of a model over a set of images and all their captions. */
export function evaluateEmbedding(
  model: JointEmbedding,
  pairs: EmbeddingPairs,
): { textToImage: RetrievalScores; imageToText: RetrievalScores } {
  const captionImage = pairs.captions.flatMap((caps, i) => caps.map(() => i));
  const sim = embeddingSimilarity(model, pairs.pooled, pairs.captions.flat());
  return evaluateSimilarity(sim, captionImage, pairs.ids.length);
}

function prepareAll(model: JointEmbedding, pooled: Float32Array): Float32Array {
  const dim = model.imageDim;
  const mean = model.param("image/mean").values;
  const out = new Float32Array(pooled.length);
  for (let i = 0; i < pooled.length / dim; i++) {
    out.set(
      prepareImageInput(pooled.subarray(i * dim, (i + 1) * dim), mean, model.config.imageParts),
      i * dim,
    );
  }
  return out;
}

function columnMean(rows: Float32Array, dim: number): Float32Array {
  const mean = new Float64Array(dim);
  const n = rows.length / dim;
  for (let i = 0; i < rows.length; i++) mean[i % dim]! += rows[i]!;
  return Float32Array.from(mean, (v) => v / n);
}

function shuffle(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** tfjs keeps Adam's step size protected; a schedule has to set it on the instance. */
function setLearningRate(optimizer: tf.AdamOptimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/**
 * The training forward pass (no dropout) on a batch, as plain arrays: the reference the plain
 * TypeScript inference in model.ts is tested against.
 */
export function forwardWithTf(
  model: JointEmbedding,
  pooled: Float32Array,
  texts: string[],
): { images: Float32Array; texts: Float32Array } {
  return tf.tidy(() => {
    const vars = new Map<string, tf.Variable>();
    for (const [name, p] of model.params) vars.set(name, tf.variable(tf.tensor(p.values, p.shape), false));
    const n = pooled.length / model.imageDim;
    const x = new Float32Array(pooled.length);
    for (let i = 0; i < n; i++) {
      const row = pooled.subarray(i * model.imageDim, (i + 1) * model.imageDim);
      x.set(
        prepareImageInput(row, model.param("image/mean").values, model.config.imageParts),
        i * model.imageDim,
      );
    }
    const bag = new Float32Array(texts.length * model.featurizer.size);
    texts.forEach((t, r) => {
      model.featurizer.fillBag(model.featurizer.termIds(t), bag, r);
    });
    const img = forwardImage(vars, model.config, tf.tensor2d(x, [n, model.imageDim]));
    const txt = forwardText(vars, model.config, tf.tensor2d(bag, [texts.length, model.featurizer.size]), 0);
    const out = { images: img.dataSync() as Float32Array, texts: txt.dataSync() as Float32Array };
    for (const v of vars.values()) v.dispose();
    return out;
  });
}
