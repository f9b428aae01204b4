import * as tf from "@tensorflow/tfjs";
import { END_ID, START_ID } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderInputs } from "../decoders/types.js";

export interface LogProbOptions {
  /** Images per forward pass (bounds memory: chunk x tokens x vocab logits). Default 64. */
  chunk?: number;
}

/**
 * Length-normalised log p(caption | image) for each image: the mean over the caption's tokens (its words
 * and the final <end>) of log p(token | image, previous tokens), teacher-forced in one pass per chunk.
 * Higher is better; exp() of it is the geometric-mean token probability (the same scale as a generated
 * caption's confidence). Used for generative ranking (text -> images).
 *
 * captions: word ids WITHOUT <start>/<end> (e.g. vocabulary.encode(words).slice(1, -1)); either one
 * caption scored against every image, or one caption per image.
 */
export function captionLogProbs(
  decoder: CaptionDecoder,
  inputs: DecoderInputs,
  captions: readonly number[] | readonly (readonly number[])[],
  options: LogProbOptions = {},
): Float32Array {
  const images = inputs.grid.shape[0];
  const perImage = Array.isArray(captions[0]);
  if (perImage && captions.length !== images) {
    throw new Error(`captionLogProbs: ${captions.length} captions for ${images} images`);
  }
  const captionOf = (i: number) =>
    perImage ? (captions[i] as readonly number[]) : (captions as readonly number[]);
  const chunk = Math.max(1, options.chunk ?? 64);
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
    const scores = tf.tidy(() => {
      const slice = (x: tf.Tensor) => tf.slice(x, start, count);
      const chunkInputs = {
        grid: slice(inputs.grid) as tf.Tensor3D,
        pooled: slice(inputs.pooled) as tf.Tensor2D,
      };
      const tokens = tf.tensor2d(input, [count, steps], "int32");
      const targets = tf.tensor2d(target, [count, steps], "int32");
      const { logits } = decoder.forward(chunkInputs, tokens, false);
      const logProbs = tf.logSoftmax(logits); // [count, steps, vocab]
      const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets, decoder.shape.vocabSize).toFloat()), -1); // [count, steps]
      const mask = tf.cast(tf.notEqual(targets, 0), "float32"); // [count, steps]
      return tf.div(tf.sum(tf.mul(picked, mask), 1), tf.sum(mask, 1)); // [count]
    });
    out.set(scores.dataSync(), start);
    scores.dispose();
  }
  return out;
}
