import * as tf from "@tensorflow/tfjs";
import { END_ID, PAD_ID, START_ID } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderInputs, DecoderState } from "../decoders/types.js";

/** One finished (or cut at maxLength) token sequence. */
export interface Hypothesis {
  /** Word ids, without <start>; always ends with <end> (forced after maxLength words). */
  tokens: number[];
  /** log p of each token in `tokens`, under the model (before any suppression mask). */
  tokenLogProbs: number[];
  /** Sum of tokenLogProbs. */
  logProb: number;
  /** Ranking score: logProb / length^alpha. */
  score: number;
  /** Per token of `tokens`, the attention over grid regions at the step that produced it (SAT only). */
  attention?: number[][];
}

export interface BeamSearchOptions {
  /** Beams per image; 1 is greedy decoding. Default 3. */
  beam?: number;
  /** Most words per caption (the <end> token is extra). Default 20, capped by the decoder's capacity. */
  maxLength?: number;
  /** Fewest words before <end> may be chosen. Default 1 (never an empty caption). */
  minLength?: number;
  /** Length normalisation exponent: score = log p / length^alpha (length counts <end>). Default 0. */
  alpha?: number;
  /** Token ids that are never generated (their log-probability is masked to -1e9); <pad> and <start> always are. */
  suppress?: readonly number[];
  /** Record attention weights (decoders that report them). Default true. */
  attention?: boolean;
  /**
   * Never repeat an n-gram of this many words within a caption (0 = off). Small caption decoders fall
   * into loops such as "a white shirt and a white shirt and"; blocking a repeated trigram stops them.
   */
  noRepeatNgram?: number;
}

/** Tokens that would complete an n-gram already present in `tokens` (fairseq's no_repeat_ngram_size). */
export function repeatingTokens(tokens: readonly number[], n: number): number[] {
  if (n <= 0 || tokens.length < n) return [];
  const banned: number[] = [];
  const start = tokens.length - (n - 1);
  for (let i = 0; i + n <= tokens.length; i++) {
    let same = true;
    for (let k = 0; k < n - 1 && same; k++) same = tokens[i + k] === tokens[start + k];
    if (same) banned.push(tokens[i + n - 1] as number);
  }
  return banned;
}

const MASKED = -1e9;

/**
 * Beam search batched over images. Hypotheses per image, best score first: up to `beam` finished ones.
 * (With beam 1 it returns what greedySearch returns, more slowly: captionFeatures uses greedySearch then.)
 */
export function beamSearch(
  decoder: CaptionDecoder,
  inputs: DecoderInputs,
  options: BeamSearchOptions = {},
): Hypothesis[][] {
  const beam = Math.max(1, Math.floor(options.beam ?? 3));
  const vocab = decoder.shape.vocabSize;
  const maxLength = capacity(decoder, options.maxLength);
  const minLength = options.minLength ?? 1;
  const alpha = options.alpha ?? 0;
  const noRepeat = options.noRepeatNgram ?? 0;
  const keepAttention = options.attention ?? true;
  const images = inputs.grid.shape[0];
  const score = (h: { logProb: number; tokens: number[] }) => h.logProb / h.tokens.length ** alpha;
  // Best score any continuation of a live beam can still reach: log p only falls as tokens are added,
  // and (log p being negative) dividing by the longest possible length^alpha gives the largest value.
  const bound = (logProb: number) => logProb / (maxLength + 1) ** alpha;

  interface Live {
    tokens: number[];
    tokenLogProbs: number[];
    logProb: number;
    attention: number[][];
  }
  const finished: Hypothesis[][] = Array.from({ length: images }, () => []);
  // Every active image keeps exactly `beam` rows; at the start all but one carry -1e9 so the first step
  // expands a single beam (the usual trick that keeps every step the same shape).
  let active = Array.from({ length: images }, (_, i) => i);
  let live: Live[][] = active.map(() =>
    Array.from({ length: beam }, (_, b) => ({
      tokens: [],
      tokenLogProbs: [],
      logProb: b === 0 ? 0 : MASKED,
      attention: [],
    })),
  );
  let state: DecoderState = withStart(decoder, inputs, tf.tensor1d(repeat(active, beam), "int32"));
  let previous = tf.fill([images * beam], START_ID, "int32") as tf.Tensor1D;
  const masks = suppressionMasks(vocab, options.suppress ?? [], minLength);
  try {
    for (let position = 0; position <= maxLength && active.length > 0; position++) {
      const step = decoder.step(state, previous);
      tf.dispose(state);
      previous.dispose();
      state = step.state;
      const rows = active.length * beam;
      const beamScores = tf.tensor1d(live.flatMap((beams) => beams.map((b) => b.logProb)));
      const mask = maskAt(masks, position, minLength, maxLength).tensor;
      const repeats = repeatMask(
        live.flatMap((beams) => beams.map((b) => b.tokens)),
        noRepeat,
        vocab,
      );
      const [topValues, topIndices, stepValues] = tf.tidy(() => {
        let logProbs = tf.add(step.logProbs, mask);
        if (repeats) logProbs = tf.add(logProbs, tf.tensor2d(repeats, [rows, vocab]));
        const total = tf.add(logProbs, beamScores.reshape([rows, 1])).reshape([active.length, beam * vocab]);
        const top = tf.topk(total, Math.min(2 * beam, beam * vocab)); // [active, 2*beam]
        return [top.values, top.indices, step.logProbs];
      });
      beamScores.dispose();
      const values = topValues.dataSync();
      const indices = topIndices.dataSync();
      const raw = stepValues.dataSync(); // [rows, vocab], unmasked
      const attention = keepAttention && step.attention ? step.attention.arraySync() : undefined;
      tf.dispose([topValues, topIndices, step.logProbs, step.attention ?? []]);

      const nextActive: number[] = [];
      const nextLive: Live[][] = [];
      const gatherRows: number[] = [];
      const nextTokens: number[] = [];
      const width = Math.min(2 * beam, beam * vocab);
      active.forEach((image, a) => {
        const kept: Live[] = [];
        const done = finished[image] as Hypothesis[];
        for (let r = 0; r < width && kept.length < beam; r++) {
          const flat = indices[a * width + r] as number;
          const total = values[a * width + r] as number;
          if (total <= MASKED / 2) break;
          const from = Math.floor(flat / vocab);
          const token = flat % vocab;
          const row = a * beam + from;
          const parent = (live[a] as Live[])[from] as Live;
          const tokenLogProb = raw[row * vocab + token] as number;
          const next: Live = {
            tokens: [...parent.tokens, token],
            tokenLogProbs: [...parent.tokenLogProbs, tokenLogProb],
            logProb: parent.logProb + tokenLogProb,
            attention: attention ? [...parent.attention, attention[row] as number[]] : parent.attention,
          };
          // An <end> is a finished hypothesis only if it ranks among the best `beam` candidates.
          if (token === END_ID) {
            if (r < beam) done.push(finish(next, score, attention !== undefined));
          } else {
            kept.push(next);
            gatherRows.push(row);
            nextTokens.push(token);
          }
        }
        if (position === maxLength || kept.length === 0 || settled(done, kept, beam, bound)) {
          gatherRows.length -= kept.length;
          nextTokens.length -= kept.length;
          return;
        }
        while (kept.length < beam) {
          // fewer than `beam` continuations: pad with dead copies so the row count stays beam per image
          kept.push({ ...(kept[0] as Live), logProb: MASKED });
          gatherRows.push(gatherRows[gatherRows.length - 1] as number);
          nextTokens.push(nextTokens[nextTokens.length - 1] as number);
        }
        nextActive.push(image);
        nextLive.push(kept);
      });
      active = nextActive;
      live = nextLive;
      const index = tf.tensor1d(gatherRows, "int32");
      const gathered = decoder.gatherState(state, index);
      index.dispose();
      tf.dispose(state);
      state = gathered;
      previous = tf.tensor1d(nextTokens, "int32");
    }
  } finally {
    tf.dispose(state);
    previous.dispose();
    disposeMasks(masks);
  }
  return finished.map((list) => list.sort((a, b) => b.score - a.score));
}

/** Greedy decoding: the most probable token at every step. Same result as beam search with beam 1. */
export function greedySearch(
  decoder: CaptionDecoder,
  inputs: DecoderInputs,
  options: BeamSearchOptions = {},
): Hypothesis[] {
  const maxLength = capacity(decoder, options.maxLength);
  const minLength = options.minLength ?? 1;
  const alpha = options.alpha ?? 0;
  const noRepeat = options.noRepeatNgram ?? 0;
  const keepAttention = options.attention ?? true;
  const images = inputs.grid.shape[0];
  const out: (Hypothesis | undefined)[] = new Array(images).fill(undefined);
  const partial = Array.from({ length: images }, () => ({
    tokens: [] as number[],
    tokenLogProbs: [] as number[],
    logProb: 0,
    attention: [] as number[][],
  }));
  const score = (h: { logProb: number; tokens: number[] }) => h.logProb / h.tokens.length ** alpha;
  let active = Array.from({ length: images }, (_, i) => i);
  let state = withStart(decoder, inputs, tf.tensor1d(active, "int32"));
  let previous = tf.fill([images], START_ID, "int32") as tf.Tensor1D;
  const masks = suppressionMasks(decoder.shape.vocabSize, options.suppress ?? [], minLength);
  try {
    for (let position = 0; position <= maxLength && active.length > 0; position++) {
      const step = decoder.step(state, previous);
      tf.dispose(state);
      previous.dispose();
      state = step.state;
      // The arg-max runs in JS on the read-back row: at batch 1 the six kernels it replaces cost more
      // (in dispatch overhead) than copying 2.5k floats.
      const mask = maskAt(masks, position, minLength, maxLength).values;
      const all = step.logProbs.dataSync();
      const vocab = decoder.shape.vocabSize;
      const tokens = new Int32Array(active.length);
      const logProbs = new Float32Array(active.length);
      for (let row = 0; row < active.length; row++) {
        let best = 0;
        let bestValue = Number.NEGATIVE_INFINITY;
        const banned = new Set(repeatingTokens(partial[active[row] as number]!.tokens, noRepeat));
        for (let v = 0; v < vocab; v++) {
          if (banned.has(v)) continue;
          const value = (all[row * vocab + v] as number) + (mask[v] as number);
          if (value > bestValue) {
            bestValue = value;
            best = v;
          }
        }
        tokens[row] = best;
        logProbs[row] = all[row * vocab + best] as number;
      }
      const attention = keepAttention && step.attention ? step.attention.arraySync() : undefined;
      tf.dispose([step.logProbs, step.attention ?? []]);
      const keepRows: number[] = [];
      const nextTokens: number[] = [];
      const nextActive: number[] = [];
      active.forEach((image, row) => {
        const h = partial[image] as (typeof partial)[number];
        const token = tokens[row] as number;
        h.tokens.push(token);
        h.tokenLogProbs.push(logProbs[row] as number);
        h.logProb += logProbs[row] as number;
        if (attention) h.attention.push(attention[row] as number[]);
        if (token === END_ID) {
          out[image] = finish(h, score, attention !== undefined);
        } else {
          keepRows.push(row);
          nextTokens.push(token);
          nextActive.push(image);
        }
      });
      if (nextActive.length < active.length && nextActive.length > 0) {
        const index = tf.tensor1d(keepRows, "int32");
        const gathered = decoder.gatherState(state, index);
        index.dispose();
        tf.dispose(state);
        state = gathered;
      }
      active = nextActive;
      previous = tf.tensor1d(nextTokens, "int32");
    }
  } finally {
    tf.dispose(state);
    previous.dispose();
    disposeMasks(masks);
  }
  return out as Hypothesis[];
}

/** [rows * vocab] additive mask banning each row's repeating tokens, or undefined when nothing is banned. */
function repeatMask(rows: readonly number[][], n: number, vocab: number): Float32Array | undefined {
  if (n <= 0) return undefined;
  let mask: Float32Array | undefined;
  rows.forEach((tokens, row) => {
    for (const token of repeatingTokens(tokens, n)) {
      mask ??= new Float32Array(rows.length * vocab);
      mask[row * vocab + token] = MASKED;
    }
  });
  return mask;
}

/** An image is settled once `beam` hypotheses are finished and no live beam can beat the worst of them. */
function settled(
  done: Hypothesis[],
  live: { logProb: number }[],
  beam: number,
  bound: (lp: number) => number,
): boolean {
  if (done.length < beam) return false;
  const worstKept = done.map((h) => h.score).sort((a, b) => b - a)[beam - 1] as number;
  return Math.max(...live.map((l) => bound(l.logProb))) <= worstKept;
}

function finish(
  h: { tokens: number[]; tokenLogProbs: number[]; logProb: number; attention: number[][] },
  score: (h: { logProb: number; tokens: number[] }) => number,
  withAttention: boolean,
): Hypothesis {
  return {
    tokens: h.tokens,
    tokenLogProbs: h.tokenLogProbs,
    logProb: h.logProb,
    score: score(h),
    ...(withAttention ? { attention: h.attention } : {}),
  };
}

/** Longest caption in words the decoder can produce (a transformer's learned positions are finite). */
function capacity(decoder: CaptionDecoder, requested: number | undefined): number {
  const wanted = Math.max(1, Math.floor(requested ?? 20));
  const config = decoder.config;
  // A step with w words so far feeds w + 1 tokens (<start> + words) to the transformer.
  if (config.kind === "transformer") return Math.min(wanted, (config.maxLength ?? 32) - 1);
  return wanted;
}

function repeat(values: number[], times: number): number[] {
  return values.flatMap((v) => Array.from({ length: times }, () => v));
}

/** start() on the images, then rows duplicated per beam. rows: [images * beam] image indices. */
function withStart(decoder: CaptionDecoder, inputs: DecoderInputs, rows: tf.Tensor1D): DecoderState {
  const initial = decoder.start(inputs);
  const expanded = decoder.gatherState(initial, rows);
  tf.dispose(initial);
  rows.dispose();
  return expanded;
}

interface Mask {
  /** [vocab] additive mask (0 or -1e9), for beam search on tensors. */
  tensor: tf.Tensor1D;
  /** The same values, for greedy search in JS. */
  values: Float32Array;
}

interface Masks {
  /** Hides suppressed tokens. */
  always: Mask;
  /** Also hides <end>, before minLength words. */
  early: Mask;
  /** Hides everything but <end>: after maxLength words the caption must end. */
  final: Mask;
}

function suppressionMasks(vocab: number, suppress: readonly number[], minLength: number): Masks {
  // <pad> and <start> are never outputs; an untrained or briefly trained model may still rank them high.
  const build = (ids: readonly number[]): Mask => {
    const values = new Float32Array(vocab);
    for (const id of [PAD_ID, START_ID, ...ids]) values[id] = MASKED;
    return { tensor: tf.tensor1d(values), values };
  };
  const final = new Float32Array(vocab).fill(MASKED);
  final[END_ID] = 0;
  return {
    always: build(suppress),
    early: minLength > 0 ? build([...suppress, END_ID]) : build(suppress),
    final: { tensor: tf.tensor1d(final), values: final },
  };
}

function maskAt(masks: Masks, position: number, minLength: number, maxLength: number): Mask {
  if (position >= maxLength) return masks.final;
  return position < minLength ? masks.early : masks.always;
}

function disposeMasks(masks: Masks): void {
  tf.dispose([masks.always.tensor, masks.early.tensor, masks.final.tensor]);
}
