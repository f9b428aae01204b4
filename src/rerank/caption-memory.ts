import { normalizeParts } from "../features/normalize-parts.js";
import { CiderReward } from "../metrics/cider-reward.js";
import { orderByScore, type ProposalRanker, proposalScores, type RankedProposal } from "./rerank.js";

/**
 * Consensus re-ranking with a caption memory (Devlin et al. 2015, "Exploring nearest neighbor
 * approaches for image captioning"; Mun et al. 2017). Beam search proposes a handful of captions; the
 * memory finds the training images whose vectors are nearest to the photo's and scores each proposal
 * by its mean CIDEr-D against their captions. Captions that say what similar photos were said to show
 * rise; fluent but off-topic ones fall. The ranking mixes that consensus with the model's own
 * length-normalised log-probability.
 *
 * What a memory holds: per training image, one vector (the model's imageVectors, centred and unit
 * length per part) and that image's tokenized captions. Those are the dataset's text, so a memory stays
 * on the user's machine; a model's n-gram prior (ngram-prior.ts) is the summary of it that can ship.
 */
export interface MemorySettings {
  /** Neighbours whose captions vote. */
  k: number;
  /** Weight of the consensus (mean CIDEr-D, about 0..3) against log p / length^alpha (nats). */
  weight: number;
  /** Length normalisation of the log-probability part. */
  alpha: number;
}

export const DEFAULT_MEMORY_SETTINGS: MemorySettings = { k: 30, weight: 8, alpha: 0.5 };

export interface CaptionMemoryData {
  /** Widths of the vector's parts (one per ensemble member), in order; they sum to the vector width. */
  parts: number[];
  /** Per-part mean subtracted before normalising, [sum(parts)]. */
  mean: Float32Array;
  /** Entry vectors, [entries, sum(parts)], each part centred and unit length. */
  vectors: Float32Array;
  /** Per entry, the tokenized captions that vote for it. */
  captions: string[][][];
  settings: MemorySettings;
}

export class CaptionMemory implements ProposalRanker {
  readonly width: number;
  readonly size: number;
  private readonly reward: CiderReward;

  constructor(readonly data: CaptionMemoryData) {
    this.width = data.parts.reduce((a, b) => a + b, 0);
    this.size = data.captions.length;
    if (data.mean.length !== this.width)
      throw new Error(`caption memory: mean has ${data.mean.length} values, parts sum to ${this.width}`);
    if (data.vectors.length !== this.size * this.width)
      throw new Error(
        `caption memory: ${data.vectors.length} vector values for ${this.size} entries of width ${this.width}`,
      );
    // Document frequencies come from the memory's own captions, as CIDEr-D takes them from its references.
    this.reward = new CiderReward(new Map(data.captions.map((captions, i) => [String(i), captions])));
  }

  get settings(): MemorySettings {
    return this.data.settings;
  }

  /** Centres each part on the memory's mean and scales it to unit length (a zero part stays zero). */
  normalize(raw: Float32Array): Float32Array {
    if (raw.length !== this.width)
      throw new Error(`caption memory: query vector has ${raw.length} values, expected ${this.width}`);
    return normalizeParts(raw, this.data.mean, this.data.parts);
  }

  /** Indices of the k entries with the largest cosine to the (raw) query vector, best first. */
  neighbours(raw: Float32Array, k = this.settings.k): number[] {
    const query = this.normalize(raw);
    const { vectors } = this.data;
    const width = this.width;
    const scores = new Float64Array(this.size);
    for (let e = 0; e < this.size; e++) {
      let dot = 0;
      const row = e * width;
      for (let j = 0; j < width; j++) dot += vectors[row + j]! * query[j]!;
      scores[e] = dot;
    }
    return topIndices(scores, Math.min(k, this.size));
  }

  /** Mean CIDEr-D of a caption against each neighbour's captions. */
  consensus(words: readonly string[], neighbours: readonly number[]): number {
    if (neighbours.length === 0) return 0;
    let total = 0;
    for (const e of neighbours) total += this.reward.score(String(e), words);
    return total / neighbours.length;
  }

  /**
   * The proposals' indices, best first, by log p / length^alpha + weight x consensus. Ties keep the
   * given order, so with weight 0 and alpha 0 the beam's own order stays.
   */
  rank(proposals: readonly RankedProposal[], raw: Float32Array): number[] {
    if (proposals.length < 2) return proposals.map((_, i) => i);
    return orderByScore(this.score(proposals, raw));
  }

  /** Each proposal's log p / length^alpha + weight x consensus. */
  score(proposals: readonly RankedProposal[], raw: Float32Array): number[] {
    const near = this.neighbours(raw);
    return proposalScores(proposals, this.settings.alpha, this.settings.weight, (words) =>
      this.consensus(words, near),
    );
  }
}

/** Indices of the k largest scores, largest first (ties: lower index first). */
function topIndices(scores: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (best.length === k && s <= scores[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && scores[best[at - 1]!]! < s) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
