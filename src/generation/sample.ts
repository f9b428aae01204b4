import { END_ID, PAD_ID, START_ID } from "../data/vocabulary.js";
import type { DecoderRuntime, FeatureBatch } from "../decoders/runtime.js";

/**
 * Draws one caption per image from the model's distribution (ancestral sampling), beside greedy and
 * beam search: self-critical training (SCST) needs random samples. Returns ids without <start>, ending
 * with <end>. `rng.next()` is uniform in [0, 1).
 */
export function sampleCaptions(
  runtime: DecoderRuntime,
  batch: FeatureBatch,
  maxLength: number,
  rng: { next(): number },
): number[][] {
  const images = batch.count;
  const vocab = runtime.shape.vocabSize;
  const out: number[][] = Array.from({ length: images }, () => []);
  const done = new Array<boolean>(images).fill(false);
  const session = runtime.open([batch]);
  let state = session.start(Int32Array.from({ length: images }, (_, i) => i));
  let previous = new Int32Array(images).fill(START_ID);
  try {
    for (let t = 0; t <= maxLength && done.includes(false); t++) {
      const step = session.step(state, previous);
      session.release(state);
      state = step.state;
      const logProbs = step.logProbs; // [images, vocab]
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
      previous = next;
    }
  } finally {
    session.release(state);
    session.close();
  }
  return out.map((ids) => (ids.at(-1) === END_ID ? ids : [...ids, END_ID]));
}
