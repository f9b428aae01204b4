import { ptbTokenize } from "../data/ptb-tokenizer.js";
import { UNK_ID, type Vocabulary } from "../data/vocabulary.js";
import { type DecoderRuntime, type FeatureBatch, type StepSession, selectRows } from "../decoders/runtime.js";
import { orderByScore, type ProposalRanker } from "../rerank/rerank.js";
import { confidenceOf, formatCaption } from "./format.js";
import { beamSearch, greedySearch, type Hypothesis } from "./search.js";
import { type CaptionOptions, type CaptionResult, DEFAULT_NO_REPEAT_NGRAM } from "./types.js";

export interface GenerateOptions extends CaptionOptions {
  /** Fewest words before <end>. Default 1. */
  minLength?: number;
  /** [gridH, gridW] of the attention maps; default: the square root of the region count when it is one. */
  attentionGrid?: [number, number];
}

/** What re-ranks a model's beams: a caption memory, the model's n-gram prior, or nothing. */
export interface Reranking {
  ranker?: ProposalRanker;
  /** "memory <dir>", "n-gram prior", or undefined: for reports. */
  label?: string;
}

/** Who a caption model is, for reports and for checking that a re-ranker or an index belongs to it. */
export interface CaptionModelInfo {
  name: string;
  /** Encoder registry name whose features the model reads. */
  encoder: string;
  /** sha256 of the weights (of an ensemble: of its members' digests). */
  weightsDigest: string;
}

/**
 * The only object that turns decoder inputs (encoder features) into captions: it runs greedy or beam
 * search from generation/ over its decoder runtime (tfjs or onnxruntime), re-ranks each image's
 * proposals with the model's re-ranker (computing the image vectors that needs), and writes the
 * sentences. The image captioner, evaluation, the search index, memory building and prior fitting all
 * call it. Views are 1 (plain) or 2 (each image and its mirror image, averaged).
 *
 * @example
 * const model = await loadCaptionModel("models/default");
 * const [result] = model.caption([features]); // { caption: "A dog runs on the grass.", confidence: 0.41, ... }
 */
export class CaptionModel {
  constructor(
    readonly runtime: DecoderRuntime,
    readonly vocabulary: Vocabulary,
    readonly info: CaptionModelInfo,
    readonly reranking: Reranking = {},
  ) {}

  /**
   * Captions a batch of images: beam search (greedy when beam is 1), then the sentence rules: the best
   * hypothesis without <unk> wins; when every hypothesis of an image has <unk>, that image is searched
   * again with <unk> masked out. One CaptionResult per image, in order.
   */
  caption(views: readonly FeatureBatch[], options: GenerateOptions = {}): CaptionResult[] {
    const [plain] = views;
    if (!plain || plain.count === 0) return [];
    const beam = Math.max(1, Math.floor(options.beam ?? 3));
    const alternatives = Math.max(0, Math.floor(options.alternatives ?? beam - 1));
    const search = {
      beam,
      maxLength: options.maxLength ?? this.vocabulary.maxLength,
      minLength: options.minLength ?? 1,
      alpha: options.alpha ?? 0,
      noRepeatNgram: options.noRepeatNgram ?? DEFAULT_NO_REPEAT_NGRAM,
    };
    const run = (x: readonly FeatureBatch[], suppress: number[], session?: StepSession) =>
      beam === 1
        ? greedySearch(this.runtime, x, { ...search, suppress }, session).map((h) => [h])
        : beamSearch(this.runtime, x, { ...search, suppress }, session);
    const { ranker } = this.reranking;
    // One session for the search and the re-ranker's image vectors: a runtime that computed them when it
    // opened the batch (onnx's start graph) is not run over the images a second time.
    const session = this.runtime.open(views);
    let hypotheses: Hypothesis[][];
    let vectors: Float32Array[] = [];
    try {
      hypotheses = run(views, [], session);
      if (ranker) vectors = session.imageVectors?.() ?? this.runtime.imageVectors(plain);
    } finally {
      session.close();
    }
    const hasUnk = (h: Hypothesis) => h.tokens.includes(UNK_ID);
    const retry = hypotheses.flatMap((list, image) => (list.some((h) => !hasUnk(h)) ? [] : [image]));
    if (retry.length > 0) {
      const again = run(
        views.map((v) => selectRows(v, retry)),
        [UNK_ID],
      );
      retry.forEach((image, i) => {
        hypotheses[image] = again[i] as Hypothesis[];
      });
    }
    const grid = options.attentionGrid ?? squareGrid(this.runtime.shape.regions);
    return hypotheses.map((list, image) => {
      const kept = list.filter((h) => !hasUnk(h));
      // the ranking score: the search's own (log p / length^alpha), or the re-ranker's
      let scores = kept.map((h) => h.score);
      if (ranker && kept.length > 1) {
        const proposals = kept.map((h) => ({ words: this.vocabulary.decode(h.tokens), logProb: h.logProb }));
        scores = ranker.score(proposals, vectors[image] as Float32Array);
      }
      const ranked = orderByScore(scores).map((i) => ({
        hypothesis: kept[i] as Hypothesis,
        score: scores[i] as number,
      }));
      return toResult(ranked, this.vocabulary, alternatives, beam, grid);
    });
  }

  /** The model's image vectors of the plain images: what caption memories index and n-gram priors read. */
  imageVectors(batch: FeatureBatch): Float32Array[] {
    return this.runtime.imageVectors(batch);
  }

  /**
   * log p(text | image) per image, length-normalised (mean over the words and <end>): generative
   * ranking for text search. exp() of it is on the same scale as a caption's confidence.
   */
  scoreText(text: string, batch: FeatureBatch): Float32Array {
    if (batch.count === 0) return new Float32Array(0);
    return this.runtime.captionLogProbs(batch, this.tokenIds(text));
  }

  /** Query words as token ids; unknown words stay <unk>, so a query full of them scores low, as it should. */
  tokenIds(text: string): number[] {
    const words = ptbTokenize(text).filter((w) => /[a-z0-9]/.test(w));
    return this.vocabulary.encode(words).slice(1, -1);
  }

  dispose(): void {
    this.runtime.dispose();
  }
}

/**
 * The result of an image's ranked proposals. The best one's confidence is the model's own
 * (confidenceOf: the geometric-mean token probability). An alternative's confidence comes from the same
 * ranking that put it below: the best's confidence times exp(its score - the best's score). So an
 * alternative never shows more confidence than the caption ranked above it, and the alternatives come
 * in the order of their confidences. (Without a re-ranker and with alpha 0 the factor is the ratio of
 * the two captions' probabilities.)
 */
function toResult(
  ranked: Array<{ hypothesis: Hypothesis; score: number }>,
  vocabulary: Vocabulary,
  alternatives: number,
  beam: number,
  grid: [number, number] | undefined,
): CaptionResult {
  const top = ranked[0];
  if (!top) return { caption: "", confidence: 0, alternatives: [], tokens: [] };
  const best = top.hypothesis;
  const words = vocabulary.decode(best.tokens);
  const caption = formatCaption(words);
  const result: CaptionResult = {
    caption,
    confidence: confidenceOf(best.tokenLogProbs),
    alternatives: [],
    tokens: words,
  };
  if (beam > 1) {
    const seen = new Set([caption]);
    for (const { hypothesis, score } of ranked.slice(1)) {
      if (result.alternatives.length >= alternatives) break;
      const text = formatCaption(vocabulary.decode(hypothesis.tokens));
      if (seen.has(text)) continue;
      seen.add(text);
      const confidence = result.confidence * Math.exp(Math.min(0, score - top.score));
      result.alternatives.push({ caption: text, confidence });
    }
  }
  if (best.attention) {
    result.attention = best.attention.slice(0, words.length); // one map per word; the <end> step dropped
    if (grid) result.attentionGrid = grid;
  }
  return result;
}

function squareGrid(regions: number): [number, number] | undefined {
  const side = Math.round(Math.sqrt(regions));
  return side * side === regions ? [side, side] : undefined;
}
