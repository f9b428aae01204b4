import { appendFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { END_ID, PAD_ID, START_ID } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderInputs } from "../decoders/types.js";
import { ciderD } from "../metrics/cider.js";
import { disposeInputs, featureBatch, tokenBatch } from "./batches.js";
import type { EpochRecord } from "./checkpoint.js";
import type { TrainConfig } from "./config.js";
import { Adam, clipByGlobalNorm } from "./optimizer.js";
import { deriveSeed, Rng } from "./rng.js";
import { disposeGradients } from "./step.js";
import type { TrainData } from "./trainer.js";
import { type DecodeWords, scoreImages } from "./validate.js";

/**
 * Draws one caption per image from the model's distribution (ancestral sampling). This is not caption
 * generation for users (that is generation/'s greedy and beam search): SCST needs random samples, which
 * generation/ does not offer. Returns ids without <start>, ending with <end>.
 */
export function sampleCaptions(
  decoder: CaptionDecoder,
  inputs: DecoderInputs,
  maxLength: number,
  rng: Rng,
): number[][] {
  const images = inputs.grid.shape[0];
  const out: number[][] = Array.from({ length: images }, () => []);
  const done = new Array<boolean>(images).fill(false);
  let state = decoder.start(inputs);
  let previous = tf.fill([images], START_ID, "int32") as tf.Tensor1D;
  for (let t = 0; t <= maxLength && done.includes(false); t++) {
    const step = decoder.step(state, previous);
    tf.dispose(state);
    previous.dispose();
    state = step.state;
    const logProbs = step.logProbs.dataSync() as Float32Array; // [images, vocab]
    const vocab = step.logProbs.shape[1];
    step.logProbs.dispose();
    step.attention?.dispose();
    const next = new Int32Array(images);
    for (let i = 0; i < images; i++) {
      if (done[i]) {
        next[i] = PAD_ID;
        continue;
      }
      let token = END_ID;
      if (t < maxLength) {
        let u = rng.next();
        for (let k = 0; k < vocab; k++) {
          u -= Math.exp(logProbs[i * vocab + k] as number);
          if (u <= 0) {
            token = k;
            break;
          }
        }
        if (token === PAD_ID || token === START_ID) token = END_ID;
      }
      out[i]!.push(token);
      if (token === END_ID) done[i] = true;
      next[i] = token;
    }
    previous = tf.tensor1d(next, "int32");
  }
  tf.dispose(state);
  previous.dispose();
  return out.map((ids) => (ids.at(-1) === END_ID ? ids : [...ids, END_ID]));
}

export interface ScstOptions {
  config: TrainConfig;
  data: TrainData;
  decoder: CaptionDecoder;
  outDir: string;
  decode: DecodeWords;
  log: (line: string) => void;
}

/**
 * Self-critical sequence training (Rennie et al. 2017): reward = CIDEr-D of a sampled caption minus
 * CIDEr-D of the greedy caption of the same image; loss = -advantage * log p(sample). Document
 * frequencies come from the references of the step's images. Keeps the new weights only if val CIDEr-D
 * (greedy, the fixed subset) improves on the cross-entropy model.
 */
export async function runScst(options: ScstOptions): Promise<EpochRecord | undefined> {
  const { config, data, decoder, log } = options;
  const scst = config.scst;
  const valImages = data.val.slice(0, config.eval.valImages);
  const scoreVal = () =>
    scoreImages(decoder, data.reader, valImages, data.vocabulary, options.decode, {
      beam: 1,
      maxLength: config.eval.maxLength,
      batchSize: 50,
    });
  const before = scoreVal();
  const saved = new Map([...decoder.variables].map(([name, v]) => [name, v.clone()]));
  const optimizer = new Adam(decoder.variables, config.optim);
  const rng = new Rng(deriveSeed(config.seed, 5150));
  let step = 0;
  let rewardSum = 0;
  const started = Date.now();
  outer: for (let epoch = 0; epoch < scst.epochs; epoch++) {
    const order = new Rng(deriveSeed(config.seed, 9000 + epoch)).shuffle([...data.train.keys()]);
    for (let start = 0; start < order.length; start += scst.batchSize) {
      if (scst.maxSteps > 0 && step >= scst.maxSteps) break outer;
      const images = order.slice(start, start + scst.batchSize).map((index) => data.train[index]!);
      const ids = images.map((image) => image.id);
      const inputs = featureBatch(data.reader, ids);
      const references = new Map(
        images.map((image) => [image.id, image.captions.map((words) => words.join(" "))]),
      );
      const greedy = options.decode(decoder, data.vocabulary, inputs, { beam: 1, maxLength: scst.maxLength });
      const samples = sampleCaptions(decoder, inputs, scst.maxLength, rng);
      const sampleText = new Map(ids.map((id, i) => [id, data.vocabulary.decode(samples[i]!).join(" ")]));
      const greedyText = new Map(ids.map((id, i) => [id, (greedy[i] ?? []).join(" ")]));
      const sampleScores = ciderD(sampleText, references).perImage;
      const greedyScores = ciderD(greedyText, references).perImage;
      const advantage = ids.map((id) => (sampleScores.get(id) ?? 0) - (greedyScores.get(id) ?? 0));
      rewardSum += ids.reduce((sum, id) => sum + (sampleScores.get(id) ?? 0), 0) / ids.length;
      const batch = tokenBatch(samples.map((sample) => [START_ID, ...sample]));
      const weights = tf.tensor1d(advantage); // [batch]
      const list = [...decoder.variables.values()];
      const stable = new Map([...decoder.variables].map(([name, v]) => [v.name, name]));
      const { value, grads } = tf.variableGrads(() => {
        const { logits } = decoder.forward(inputs, batch.inputs, true);
        const logProbs = tf.logSoftmax(logits); // [batch, T, vocab]
        const picked = tf.oneHot(batch.targets, logits.shape[2]).toFloat().mul(logProbs).sum(-1); // [batch, T]
        const mask = batch.targets.notEqual(PAD_ID).toFloat(); // [batch, T]
        const perCaption = picked.mul(mask).sum(-1); // [batch]
        return perCaption.mul(weights).neg().sum().div(mask.sum().maximum(1)) as tf.Scalar;
      }, list);
      value.dispose();
      weights.dispose();
      disposeInputs(inputs);
      batch.inputs.dispose();
      batch.targets.dispose();
      const named = new Map(Object.entries(grads).map(([name, grad]) => [stable.get(name) ?? name, grad]));
      clipByGlobalNorm(named, config.optim.clipNorm);
      optimizer.apply(named, scst.learningRate);
      disposeGradients(named);
      step += 1;
      if (step % 20 === 0) log(`scst step ${step}: mean sample CIDEr-D ${(rewardSum / step).toFixed(4)}`);
    }
  }
  optimizer.dispose();
  const after = scoreVal();
  const record: EpochRecord = {
    stage: "scst",
    epoch: scst.epochs - 1,
    step,
    trainLoss: Number.NaN,
    valLoss: Number.NaN,
    bleu4: after.bleu4,
    ciderD: after.ciderD,
    learningRate: scst.learningRate,
    tokensPerSecond: 0,
    seconds: (Date.now() - started) / 1000,
  };
  appendFileSync(path.join(options.outDir, "log.jsonl"), `${JSON.stringify(record)}\n`);
  if (after.ciderD <= before.ciderD) {
    log(
      `scst: val CIDEr-D ${after.ciderD.toFixed(4)} <= ${before.ciderD.toFixed(4)} before; keeping the cross-entropy weights`,
    );
    for (const [name, variable] of decoder.variables) variable.assign(saved.get(name)!);
  } else {
    log(`scst: val CIDEr-D ${before.ciderD.toFixed(4)} -> ${after.ciderD.toFixed(4)}`);
  }
  for (const tensor of saved.values()) tensor.dispose();
  return record;
}
