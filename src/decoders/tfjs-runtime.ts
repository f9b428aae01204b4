import * as tf from "@tensorflow/tfjs";
import { END_ID, START_ID } from "../data/vocabulary.js";
import { imageVectors } from "./image-vectors.js";
import {
  captionPerImage,
  checkBatch,
  type DecoderRuntime,
  decoderCapacity,
  type FeatureBatch,
  type StepOutput,
  type StepSession,
  sliceRows,
} from "./runtime.js";
import type { CaptionDecoder, DecoderInputs, DecoderState } from "./types.js";

/** A batch's features as the decoder's input tensors (the caller disposes them). */
export function toDecoderInputs(batch: FeatureBatch, shape: CaptionDecoder["shape"]): DecoderInputs {
  checkBatch(batch, shape);
  return {
    grid: tf.tensor3d(batch.grid, [batch.count, shape.regions, shape.featureDim]), // [images, regions, channels]
    pooled: tf.tensor2d(batch.pooled, [batch.count, shape.pooledDim]), // [images, pooled]
  };
}

/**
 * A CaptionDecoder on tfjs as a DecoderRuntime: the reference runtime, and the one training uses (its
 * decoder keeps training while validation captions with it). It does not own the decoder unless told.
 */
export class TfjsRuntime implements DecoderRuntime {
  readonly runtime = "tfjs" as const;
  readonly maxWords: number;

  constructor(
    readonly decoder: CaptionDecoder,
    private readonly ownsDecoder = false,
  ) {
    this.maxWords = decoderCapacity(decoder.config);
  }

  get shape() {
    return this.decoder.shape;
  }

  open(views: readonly FeatureBatch[]): StepSession<DecoderState[]> {
    if (views.length === 0) throw new Error("open: no views");
    const inputs = views.map((v) => toDecoderInputs(v, this.decoder.shape));
    return new TfjsSession(this.decoder, inputs);
  }

  imageVectors(batch: FeatureBatch): Float32Array[] {
    if (batch.count === 0) return [];
    const inputs = toDecoderInputs(batch, this.decoder.shape);
    const flat = imageVectors(this.decoder, inputs);
    const [rows, width] = flat.shape;
    const values = flat.dataSync() as Float32Array;
    tf.dispose([flat, inputs.grid, inputs.pooled]);
    return Array.from({ length: rows }, (_, r) => values.slice(r * width, (r + 1) * width));
  }

  captionLogProbs(
    batch: FeatureBatch,
    captions: readonly number[] | readonly (readonly number[])[],
    chunk = 64,
  ): Float32Array {
    const images = batch.count;
    const captionOf = captionPerImage(captions, images);
    const { vocabSize } = this.decoder.shape;
    const out = new Float32Array(images);
    for (let start = 0; start < images; start += chunk) {
      const count = Math.min(chunk, images - start);
      const rows = Array.from({ length: count }, (_, i) => captionOf(start + i));
      const steps = Math.max(...rows.map((r) => r.length)) + 1; // <start> + longest caption
      // inputs [<start>, w1..wn, pad...], targets [w1..wn, <end>, pad...]; 0 is <pad>
      const input = new Int32Array(count * steps);
      const target = new Int32Array(count * steps);
      rows.forEach((row, i) => {
        input[i * steps] = START_ID;
        row.forEach((id, t) => {
          input[i * steps + t + 1] = id;
          target[i * steps + t] = id;
        });
        target[i * steps + row.length] = END_ID;
      });
      const chunkBatch = sliceRows(batch, start, count);
      const scores = tf.tidy(() => {
        const tokens = tf.tensor2d(input, [count, steps], "int32");
        const targets = tf.tensor2d(target, [count, steps], "int32");
        const { logits } = this.decoder.forward(
          toDecoderInputs(chunkBatch, this.decoder.shape),
          tokens,
          false,
        );
        const logProbs = tf.logSoftmax(logits); // [count, steps, vocab]
        const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets, vocabSize).toFloat()), -1); // [count, steps]
        const mask = tf.cast(tf.notEqual(targets, 0), "float32"); // [count, steps]
        return tf.div(tf.sum(tf.mul(picked, mask), 1), tf.sum(mask, 1)); // [count]
      });
      out.set(scores.dataSync(), start);
      scores.dispose();
    }
    return out;
  }

  dispose(): void {
    if (this.ownsDecoder) this.decoder.dispose();
  }
}

/** One state per view; the views' next-word probabilities are averaged. */
class TfjsSession implements StepSession<DecoderState[]> {
  constructor(
    private readonly decoder: CaptionDecoder,
    private readonly views: DecoderInputs[],
  ) {}

  start(rows: Int32Array): DecoderState[] {
    return this.views.map((inputs) => {
      const initial = this.decoder.start(inputs);
      const index = tf.tensor1d(rows, "int32");
      const expanded = this.decoder.gatherState(initial, index);
      tf.dispose([initial, index]);
      return expanded;
    });
  }

  step(state: DecoderState[], previous: Int32Array): StepOutput<DecoderState[]> {
    const tokens = tf.tensor1d(previous, "int32");
    const steps = state.map((s) => this.decoder.step(s, tokens));
    tokens.dispose();
    const next = steps.map((s) => s.state);
    if (steps.length === 1) {
      const [only] = steps as [(typeof steps)[number]];
      const logProbs = only.logProbs.dataSync() as Float32Array;
      const attention = only.attention ? (only.attention.dataSync() as Float32Array) : undefined;
      tf.dispose([only.logProbs, only.attention ?? []]);
      return attention ? { logProbs, attention, state: next } : { logProbs, state: next };
    }
    // log of the mean probability over the views: logsumexp minus log(views), as an ensemble averages
    const parts = steps.map((s) => s.logProbs);
    const mean = tf.tidy(() => tf.sub(tf.logSumExp(tf.stack(parts), 0), Math.log(parts.length)));
    const logProbs = mean.dataSync() as Float32Array;
    tf.dispose([mean, ...parts, ...steps.flatMap((s) => (s.attention ? [s.attention] : []))]);
    return { logProbs, state: next };
  }

  gather(state: DecoderState[], rows: Int32Array): DecoderState[] {
    const index = tf.tensor1d(rows, "int32");
    const out = state.map((s) => this.decoder.gatherState(s, index));
    index.dispose();
    return out;
  }

  release(state: DecoderState[]): void {
    for (const s of state) tf.dispose(s);
  }

  close(): void {
    for (const v of this.views) tf.dispose([v.grid, v.pooled]);
  }
}
