import * as tf from "@tensorflow/tfjs";
import { UNK_ID, type Vocabulary } from "../data/vocabulary.js";
import type { CaptionDecoder, DecoderInputs } from "../decoders/types.js";
import { confidenceOf, formatCaption } from "./format.js";
import type { RankedProposal } from "./rerank.js";
import { beamSearch, greedySearch, type Hypothesis } from "./search.js";
import { type CaptionOptions, type CaptionResult, DEFAULT_NO_REPEAT_NGRAM } from "./types.js";

export interface GenerateOptions extends CaptionOptions {
  /** Fewest words before <end>. Default 1. */
  minLength?: number;
  /** [gridH, gridW] of the attention maps; default: the square root of the region count when it is one. */
  attentionGrid?: [number, number];
  /**
   * Re-orders an image's finished hypotheses (without <unk>), e.g. by consensus with a caption memory:
   * gets the image's index in the batch and its proposals in beam order, returns their indices best
   * first. Default: the beam's order.
   */
  rerank?: (image: number, proposals: RankedProposal[]) => number[];
}

/**
 * Captions a batch of encoded images: beam search (greedy when beam is 1), then the sentence rules:
 * the best hypothesis without <unk> wins; when every hypothesis of an image has <unk>, that image is
 * searched again with <unk> masked out. Returns one CaptionResult per image, in order.
 *
 * This (and the search functions under it) is the only decoding code in captionkit: evaluation, the
 * CLI, the server and validation during training all call it.
 */
export function captionFeatures(
  decoder: CaptionDecoder,
  vocabulary: Vocabulary,
  inputs: DecoderInputs,
  options: GenerateOptions = {},
): CaptionResult[] {
  const beam = Math.max(1, Math.floor(options.beam ?? 3));
  const alternatives = Math.max(0, Math.floor(options.alternatives ?? beam - 1));
  const search = {
    beam,
    maxLength: options.maxLength ?? vocabulary.maxLength,
    minLength: options.minLength ?? 1,
    alpha: options.alpha ?? 0,
    noRepeatNgram: options.noRepeatNgram ?? DEFAULT_NO_REPEAT_NGRAM,
  };
  const run = (x: DecoderInputs, suppress: number[]) =>
    beam === 1
      ? greedySearch(decoder, x, { ...search, suppress }).map((h) => [h])
      : beamSearch(decoder, x, { ...search, suppress });
  const hypotheses = run(inputs, []);
  const hasUnk = (h: Hypothesis) => h.tokens.includes(UNK_ID);
  const retry = hypotheses.flatMap((list, image) => (list.some((h) => !hasUnk(h)) ? [] : [image]));
  if (retry.length > 0) {
    const index = tf.tensor1d(retry, "int32");
    const subset: DecoderInputs = {
      grid: tf.gather(inputs.grid, index) as tf.Tensor3D,
      pooled: tf.gather(inputs.pooled, index) as tf.Tensor2D,
    };
    const again = run(subset, [UNK_ID]);
    tf.dispose([index, subset.grid, subset.pooled]);
    retry.forEach((image, i) => {
      hypotheses[image] = again[i] as Hypothesis[];
    });
  }
  const grid = options.attentionGrid ?? squareGrid(decoder.shape.regions);
  return hypotheses.map((list, image) => {
    let ranked = list.filter((h) => !hasUnk(h));
    if (options.rerank && ranked.length > 1) {
      const proposals = ranked.map((h) => ({ words: vocabulary.decode(h.tokens), logProb: h.logProb }));
      const order = options.rerank(image, proposals);
      ranked = order.map((i) => ranked[i] as Hypothesis);
    }
    return toResult(ranked, vocabulary, alternatives, beam, grid);
  });
}

function toResult(
  ranked: Hypothesis[],
  vocabulary: Vocabulary,
  alternatives: number,
  beam: number,
  grid: [number, number] | undefined,
): CaptionResult {
  const best = ranked[0];
  if (!best) return { caption: "", confidence: 0, alternatives: [], tokens: [] };
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
    for (const h of ranked.slice(1)) {
      if (result.alternatives.length >= alternatives) break;
      const text = formatCaption(vocabulary.decode(h.tokens));
      if (seen.has(text)) continue;
      seen.add(text);
      result.alternatives.push({ caption: text, confidence: confidenceOf(h.tokenLogProbs) });
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
