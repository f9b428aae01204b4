import { END_ID, PAD_ID, START_ID } from "../data/vocabulary.js";
import type { DecoderRuntime, FeatureBatch, StepSession } from "../decoders/runtime.js";

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

/** float32 rounding: the searches rank candidates as the float32 sums a tensor runtime would form. */
const f32 = Math.fround;

/**
 * Beam search batched over images, over any decoder runtime's StepSession (the search itself is plain
 * JS over the step's log-probabilities). Hypotheses per image, best score first: up to `beam` finished
 * ones. (With beam 1 it returns what greedySearch returns, more slowly: CaptionModel uses greedy then.)
 */
export function beamSearch(
  runtime: DecoderRuntime,
  views: readonly FeatureBatch[],
  options: BeamSearchOptions = {},
  /** A session already open over `views` (the caller closes it); default: one opened and closed here. */
  opened?: StepSession,
): Hypothesis[][] {
  const beam = Math.max(1, Math.floor(options.beam ?? 3));
  const vocab = runtime.shape.vocabSize;
  const maxLength = capacity(runtime, options.maxLength);
  const minLength = options.minLength ?? 1;
  const alpha = options.alpha ?? 0;
  const noRepeat = options.noRepeatNgram ?? 0;
  const keepAttention = options.attention ?? true;
  const images = (views[0] as FeatureBatch).count;
  const regions = runtime.shape.regions;
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
  const session = opened ?? runtime.open(views);
  let state = session.start(Int32Array.from(repeat(active, beam)));
  let previous = new Int32Array(images * beam).fill(START_ID);
  const masks = suppressionMasks(vocab, options.suppress ?? [], minLength);
  const width = Math.min(2 * beam, beam * vocab);
  try {
    for (let position = 0; position <= maxLength && active.length > 0; position++) {
      const step = session.step(state, previous);
      session.release(state);
      state = step.state;
      const raw = step.logProbs; // [rows, vocab], unmasked
      const mask = maskAt(masks, position, minLength, maxLength);
      const attention = keepAttention ? step.attention : undefined;

      const nextActive: number[] = [];
      const nextLive: Live[][] = [];
      const gatherRows: number[] = [];
      const nextTokens: number[] = [];
      active.forEach((image, a) => {
        const beams = live[a] as Live[];
        const top = topCandidates(raw, a * beam, beams, mask, noRepeat, vocab, width);
        const kept: Live[] = [];
        const done = finished[image] as Hypothesis[];
        for (let r = 0; r < top.length && kept.length < beam; r++) {
          const { flat, total } = top[r] as Candidate;
          if (total <= MASKED / 2) break;
          const from = Math.floor(flat / vocab);
          const token = flat % vocab;
          const row = a * beam + from;
          const parent = beams[from] as Live;
          const tokenLogProb = raw[row * vocab + token] as number;
          const next: Live = {
            tokens: [...parent.tokens, token],
            tokenLogProbs: [...parent.tokenLogProbs, tokenLogProb],
            logProb: parent.logProb + tokenLogProb,
            attention: attention
              ? [...parent.attention, Array.from(attention.subarray(row * regions, (row + 1) * regions))]
              : parent.attention,
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
      if (active.length === 0) break;
      const gathered = session.gather(state, Int32Array.from(gatherRows));
      session.release(state);
      state = gathered;
      previous = Int32Array.from(nextTokens);
    }
  } finally {
    session.release(state);
    if (!opened) session.close();
  }
  return finished.map((list) => list.sort((a, b) => b.score - a.score));
}

interface Candidate {
  /** beam * vocab + token, within one image's rows. */
  flat: number;
  /** float32 (log p of the token + mask) + the beam's log p, as a tensor runtime would add them. */
  total: number;
}

/**
 * The `width` best next (beam, token) pairs of one image, best first; ties go to the lower index, as
 * tfjs's topk orders them. Tokens banned by the mask or by trigram blocking score -1e9 lower.
 */
function topCandidates(
  raw: Float32Array,
  firstRow: number,
  beams: readonly { tokens: number[]; logProb: number }[],
  mask: Float32Array,
  noRepeat: number,
  vocab: number,
  width: number,
): Candidate[] {
  const top: Candidate[] = [];
  beams.forEach((b, from) => {
    const beamScore = f32(b.logProb);
    const banned = new Set(repeatingTokens(b.tokens, noRepeat));
    const offset = (firstRow + from) * vocab;
    for (let token = 0; token < vocab; token++) {
      let logProb = f32((raw[offset + token] as number) + (mask[token] as number));
      if (banned.has(token)) logProb = f32(logProb + MASKED);
      const total = f32(logProb + beamScore);
      if (top.length === width && total <= (top[width - 1] as Candidate).total) continue;
      // insertion into the short sorted list: strictly greater moves up, so earlier indices win ties
      let at = top.length < width ? top.length : width - 1;
      while (at > 0 && total > (top[at - 1] as Candidate).total) at--;
      if (top.length === width) top.pop();
      top.splice(at, 0, { flat: from * vocab + token, total });
    }
  });
  return top;
}

/** Greedy decoding: the most probable token at every step. Same result as beam search with beam 1. */
export function greedySearch(
  runtime: DecoderRuntime,
  views: readonly FeatureBatch[],
  options: BeamSearchOptions = {},
  /** A session already open over `views` (the caller closes it); default: one opened and closed here. */
  opened?: StepSession,
): Hypothesis[] {
  const maxLength = capacity(runtime, options.maxLength);
  const minLength = options.minLength ?? 1;
  const alpha = options.alpha ?? 0;
  const noRepeat = options.noRepeatNgram ?? 0;
  const keepAttention = options.attention ?? true;
  const vocab = runtime.shape.vocabSize;
  const regions = runtime.shape.regions;
  const images = (views[0] as FeatureBatch).count;
  const out: (Hypothesis | undefined)[] = new Array(images).fill(undefined);
  const partial = Array.from({ length: images }, () => ({
    tokens: [] as number[],
    tokenLogProbs: [] as number[],
    logProb: 0,
    attention: [] as number[][],
  }));
  const score = (h: { logProb: number; tokens: number[] }) => h.logProb / h.tokens.length ** alpha;
  let active = Array.from({ length: images }, (_, i) => i);
  const session = opened ?? runtime.open(views);
  let state = session.start(Int32Array.from(active));
  let previous = new Int32Array(images).fill(START_ID);
  const masks = suppressionMasks(vocab, options.suppress ?? [], minLength);
  try {
    for (let position = 0; position <= maxLength && active.length > 0; position++) {
      const step = session.step(state, previous);
      session.release(state);
      state = step.state;
      const mask = maskAt(masks, position, minLength, maxLength);
      const all = step.logProbs;
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
      const attention = keepAttention ? step.attention : undefined;
      const keepRows: number[] = [];
      const nextTokens: number[] = [];
      const nextActive: number[] = [];
      active.forEach((image, row) => {
        const h = partial[image] as (typeof partial)[number];
        const token = tokens[row] as number;
        h.tokens.push(token);
        h.tokenLogProbs.push(logProbs[row] as number);
        h.logProb += logProbs[row] as number;
        if (attention) h.attention.push(Array.from(attention.subarray(row * regions, (row + 1) * regions)));
        if (token === END_ID) {
          out[image] = finish(h, score, attention !== undefined);
        } else {
          keepRows.push(row);
          nextTokens.push(token);
          nextActive.push(image);
        }
      });
      if (nextActive.length < active.length && nextActive.length > 0) {
        const gathered = session.gather(state, Int32Array.from(keepRows));
        session.release(state);
        state = gathered;
      }
      active = nextActive;
      previous = Int32Array.from(nextTokens);
    }
  } finally {
    session.release(state);
    if (!opened) session.close();
  }
  return out as Hypothesis[];
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

/** Longest caption in words: the requested length (default 20), capped by the decoder's capacity. */
function capacity(runtime: DecoderRuntime, requested: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(requested ?? 20)), runtime.maxWords);
}

function repeat(values: number[], times: number): number[] {
  return values.flatMap((v) => Array.from({ length: times }, () => v));
}

interface Masks {
  /** [vocab] additive masks (0 or -1e9). Hides suppressed tokens. */
  always: Float32Array;
  /** Also hides <end>, before minLength words. */
  early: Float32Array;
  /** Hides everything but <end>: after maxLength words the caption must end. */
  final: Float32Array;
}

function suppressionMasks(vocab: number, suppress: readonly number[], minLength: number): Masks {
  // <pad> and <start> are never outputs; an untrained or briefly trained model may still rank them high.
  const build = (ids: readonly number[]): Float32Array => {
    const values = new Float32Array(vocab);
    for (const id of [PAD_ID, START_ID, ...ids]) values[id] = MASKED;
    return values;
  };
  const final = new Float32Array(vocab).fill(MASKED);
  final[END_ID] = 0;
  return {
    always: build(suppress),
    early: minLength > 0 ? build([...suppress, END_ID]) : build(suppress),
    final,
  };
}

function maskAt(masks: Masks, position: number, minLength: number, maxLength: number): Float32Array {
  if (position >= maxLength) return masks.final;
  return position < minLength ? masks.early : masks.always;
}
