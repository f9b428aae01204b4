import { createHash } from "node:crypto";
import { expect } from "vitest";
import { tf } from "../../../tfjs/backend.js";
import { maxAbsDifference } from "../../../tfjs/test-utils/random.js";
import { ParamInit } from "../../params.js";
import type { DecoderRuntime, FeatureBatch } from "../../runtime.js";
import type { CaptionDecoder } from "../../types.js";

/** Replaces every weight with seeded noise (biases, norms and statistics too, so none hides behind 0 or 1). */
export function randomizeWeights(decoder: CaptionDecoder, seed: number, scale = 0.3): void {
  const init = new ParamInit(seed);
  for (const [name, v] of decoder.variables) {
    if (name.includes("centernet_tail")) continue; // the tail keeps CenterNet's weights: its activations stay in range
    const values = init.uniform(v.size, scale);
    if (name.endsWith("/gamma")) for (let i = 0; i < values.length; i++) values[i] = 1 + values[i]!;
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
  for (const [name, v] of decoder.buffers ?? []) {
    const values = init.uniform(v.size, scale);
    if (name.endsWith("moving_variance"))
      for (let i = 0; i < values.length; i++) values[i] = 0.5 + Math.abs(values[i]!);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
}

/** A made-up but well-formed weights digest for a test model. */
export function testDigest(label: string): string {
  return createHash("sha256").update(label).digest("hex");
}

export function randomBatch(
  count: number,
  shape: { regions: number; featureDim: number; pooledDim: number },
  seed: number,
  scale = 1,
): FeatureBatch {
  const init = new ParamInit(seed);
  return {
    count,
    grid: init.uniform(count * shape.regions * shape.featureDim, scale),
    pooled: init.uniform(count * shape.pooledDim, scale),
  };
}

/** The same batch mirrored left-right (a plausible second view: same statistics, other values). */
export function mirrored(batch: FeatureBatch, side: number): FeatureBatch {
  const perImage = batch.grid.length / batch.count;
  const channels = perImage / (side * side);
  const grid = new Float32Array(batch.grid.length);
  for (let i = 0; i < batch.count; i++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const from = i * perImage + (y * side + x) * channels;
        const to = i * perImage + (y * side + (side - 1 - x)) * channels;
        grid.set(batch.grid.subarray(from, from + channels), to);
      }
  return { count: batch.count, grid, pooled: batch.pooled.map((v) => -v) };
}

function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tolerance: number,
) {
  expect(actual.length, what).toBe(expected.length);
  const { worst } = maxAbsDifference(actual, expected);
  expect(worst, what).toBeLessThan(tolerance);
}

/**
 * Runs both runtimes side by side over `steps` steps, two beams per image, with gathers in between
 * (dropping an image's beams, reordering, duplicating and dropping rows), and checks every step's
 * log-probabilities and attention,
 * then imageVectors and captionLogProbs.
 */
export function expectParity(
  reference: DecoderRuntime,
  candidate: DecoderRuntime,
  views: FeatureBatch[],
  options: { steps?: number; tolerance?: number } = {},
): void {
  const steps = options.steps ?? 4;
  const tolerance = options.tolerance ?? 1e-4;
  const { vocabSize } = reference.shape;
  const a = reference.open(views);
  const b = candidate.open(views);
  const images = views[0]!.count;
  const rows = Int32Array.from({ length: images * 2 }, (_, i) => i >> 1);
  let sa = a.start(rows);
  let sb = b.start(rows);
  let count = rows.length;
  for (let t = 0; t < steps; t++) {
    const previous = Int32Array.from({ length: count }, (_, i) =>
      t === 0 ? 1 : 3 + ((i * 7 + t * 5) % (vocabSize - 3)),
    );
    const outA = a.step(sa, previous);
    const outB = b.step(sb, previous);
    expectClose(outB.logProbs, outA.logProbs, `log-probabilities at step ${t}`, tolerance);
    expect(outB.attention === undefined, `attention presence at step ${t}`).toBe(
      outA.attention === undefined,
    );
    if (outA.attention && outB.attention)
      expectClose(outB.attention, outA.attention, `attention at step ${t}`, tolerance);
    a.release(sa);
    b.release(sb);
    sa = outA.state;
    sb = outB.state;
    if (t < steps - 1) {
      // first drop image 1 (beams stay grouped by image), then reverse and duplicate a row, then drop one
      const order = Array.from({ length: count }, (_, i) => count - 1 - i);
      const gathered = Int32Array.from(
        t === 0
          ? Array.from(rows.keys()).filter((i) => images < 2 || rows[i] !== 1)
          : t % 2 === 1
            ? [...order, 0]
            : order.slice(1),
      );
      const ga = a.gather(sa, gathered);
      const gb = b.gather(sb, gathered);
      a.release(sa);
      b.release(sb);
      sa = ga;
      sb = gb;
      count = gathered.length;
    }
  }
  a.release(sa);
  b.release(sb);
  a.close();
  b.close();

  const [batch] = views as [FeatureBatch];
  const vectorsA = reference.imageVectors(batch);
  const vectorsB = candidate.imageVectors(batch);
  expect(vectorsB.length).toBe(vectorsA.length);
  vectorsA.forEach((v, i) => {
    expectClose(vectorsB[i]!, v, `image vector ${i}`, tolerance);
  });
  const captions = Array.from({ length: batch.count }, (_, i) =>
    Array.from({ length: 2 + (i % 3) }, (_, w) => 3 + ((i * 5 + w * 3) % (vocabSize - 3))),
  );
  expectClose(
    candidate.captionLogProbs(batch, captions),
    reference.captionLogProbs(batch, captions),
    "captionLogProbs",
    tolerance,
  );
  const one = captions[0]!;
  expectClose(
    candidate.captionLogProbs(batch, one),
    reference.captionLogProbs(batch, one),
    "captionLogProbs of one caption",
    tolerance,
  );
}
