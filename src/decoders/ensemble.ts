import * as tf from "@tensorflow/tfjs";
import { imageVectorParts, imageVectors } from "./image-vectors.js";
import type { CaptionDecoder, DecoderInputs, DecoderShape, DecoderState, DecoderStep } from "./types.js";

/**
 * Several decoders that share a vocabulary, read as one: each member gets its own slice of the
 * concatenated features (members in order, as the `a+b` encoder joins their encoders), and the next
 * word's probability is the mean of the members' probabilities. Members trained on different features
 * make different mistakes, so averaging them is a standard way to gain quality at decode time.
 * A member trained on a coarser grid gets the ensemble's grid averaged over k x k blocks, so a 7x7
 * model can join a 14x14 one when its features are the 14x14 ones' block means.
 */
export class EnsembleDecoder implements CaptionDecoder {
  readonly shape: DecoderShape;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly imageVectorParts: readonly number[];
  /** Channel offsets of each member's grid and pooled slice. */
  private readonly slices: Array<{ grid: number; pooled: number }>;
  /** Per member, the k of the k x k grid averaging that turns the ensemble's grid into its own (1 = none). */
  private readonly pools: number[];

  /** members: read by runtimes that compile the ensemble (decoders/onnx). */
  constructor(readonly members: readonly CaptionDecoder[]) {
    const [first] = members;
    if (!first || members.length < 2) throw new Error("an ensemble needs at least two decoders");
    const regions = Math.max(...members.map((m) => m.shape.regions));
    this.pools = members.map((m) => {
      if (m.shape.vocabSize !== first.shape.vocabSize)
        throw new Error("ensemble members must share one vocabulary (vocabulary sizes differ)");
      const pool = gridPoolBetween(regions, m.shape.regions);
      if (pool === undefined)
        throw new Error(
          `ensemble members must see the same square grid, or one that k x k averaging makes (${regions} vs ${m.shape.regions} regions)`,
        );
      return pool;
    });
    let grid = 0;
    let pooled = 0;
    this.slices = members.map((m) => {
      const slice = { grid, pooled };
      grid += m.shape.featureDim;
      pooled += m.shape.pooledDim;
      return slice;
    });
    this.shape = {
      vocabSize: first.shape.vocabSize,
      regions: first.shape.regions,
      featureDim: grid,
      pooledDim: pooled,
    };
    this.imageVectorParts = members.flatMap((m) => imageVectorParts(m));
    this.variables = new Map(
      members.flatMap((m, i) => [...m.variables].map(([k, v]) => [`${i}/${k}`, v] as const)),
    );
  }

  /** The first member's: it bounds caption length (transformer positions) for every member alike. */
  get config() {
    return this.members[0]!.config;
  }

  private inputsOf(inputs: DecoderInputs, member: number): DecoderInputs {
    const { shape } = this.members[member]!;
    const slice = this.slices[member]!;
    const [batch, regions] = inputs.grid.shape;
    const pool = this.pools[member]!;
    return tf.tidy(() => {
      let grid = tf.slice(inputs.grid, [0, 0, slice.grid], [batch, regions, shape.featureDim]);
      if (pool > 1) {
        // a member trained on the k x k block means of this grid (centernet_448 is centernet_448_grid14
        // averaged over 2 x 2): [batch, side, side, c] -> avgPool -> [batch, regions / k^2, c]
        const side = Math.round(Math.sqrt(regions));
        const image = grid.reshape([batch, side, side, shape.featureDim]) as tf.Tensor4D;
        grid = tf.avgPool(image, pool, pool, "valid").reshape([batch, shape.regions, shape.featureDim]);
      }
      return { grid, pooled: tf.slice(inputs.pooled, [0, slice.pooled], [batch, shape.pooledDim]) };
    });
  }

  /** log of the mean probability: logsumexp over members minus log(members). */
  private meanLogProbs(parts: tf.Tensor[]): tf.Tensor {
    return tf.sub(tf.logSumExp(tf.stack(parts), 0), Math.log(parts.length));
  }

  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
    imageRows?: tf.Tensor1D,
  ): { logits: tf.Tensor3D } {
    return tf.tidy(() => {
      const parts = this.members.map((m, i) =>
        tf.logSoftmax(m.forward(this.inputsOf(inputs, i), tokens, training, imageRows).logits),
      );
      return { logits: this.meanLogProbs(parts) as tf.Tensor3D }; // [batch, T, vocab] log-probabilities
    });
  }

  start(inputs: DecoderInputs): DecoderState {
    const state: DecoderState = {};
    this.members.forEach((m, i) => {
      const own = this.inputsOf(inputs, i);
      for (const [key, value] of Object.entries(m.start(own))) state[`${i}/${key}`] = value;
      tf.dispose([own.grid, own.pooled]);
    });
    return state;
  }

  /** The members' vectors side by side, in member order. */
  imageVectors(inputs: DecoderInputs): tf.Tensor2D {
    return tf.tidy(() =>
      tf.concat(
        this.members.map((m, i) => imageVectors(m, this.inputsOf(inputs, i))),
        1,
      ),
    );
  }

  private stateOf(state: DecoderState, member: number): DecoderState {
    const prefix = `${member}/`;
    const own: DecoderState = {};
    for (const [key, value] of Object.entries(state))
      if (key.startsWith(prefix)) own[key.slice(prefix.length)] = value;
    return own;
  }

  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep {
    const next: DecoderState = {};
    const logProbs: tf.Tensor[] = [];
    this.members.forEach((m, i) => {
      const step = m.step(this.stateOf(state, i), previous);
      for (const [key, value] of Object.entries(step.state)) next[`${i}/${key}`] = value;
      logProbs.push(step.logProbs);
      if (step.attention) step.attention.dispose();
    });
    const mean = tf.tidy(() => this.meanLogProbs(logProbs) as tf.Tensor2D);
    tf.dispose(logProbs);
    return { logProbs: mean, state: next };
  }

  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState {
    const out: DecoderState = {};
    this.members.forEach((m, i) => {
      for (const [key, value] of Object.entries(m.gatherState(this.stateOf(state, i), indices)))
        out[`${i}/${key}`] = value;
    });
    return out;
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }
}

/** k such that a square grid of `from` regions averaged over k x k blocks has `to` regions, if any. */
export function gridPoolBetween(from: number, to: number): number | undefined {
  const side = Math.round(Math.sqrt(from));
  const own = Math.round(Math.sqrt(to));
  if (from === to) return 1;
  if (side * side !== from || own * own !== to || side % own !== 0) return undefined;
  return side / own;
}
