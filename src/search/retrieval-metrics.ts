/** Recall@K and median rank, the usual image-sentence retrieval figures (Karpathy & Fei-Fei 2015). */
export interface RetrievalScores {
  "R@1": number;
  "R@5": number;
  "R@10": number;
  /** Median over queries of the 1-based rank of the first correct item. */
  medianRank: number;
  queries: number;
}

/**
 * Scores from 1-based ranks of the first correct item per query. Ties count against the query
 * (rank = 1 + items scoring at least as high that are wrong), so a constant scorer gets no credit.
 */
export function scoresFromRanks(ranks: readonly number[]): RetrievalScores {
  const recall = (k: number) => ranks.filter((r) => r <= k).length / Math.max(ranks.length, 1);
  const sorted = [...ranks].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianRank =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2
        ? sorted[mid]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { "R@1": recall(1), "R@5": recall(5), "R@10": recall(10), medianRank, queries: ranks.length };
}

/**
 * Rank of the best-scoring correct item among `scores` (one query's scores over all items).
 * correct: indices of the items that answer the query.
 */
export function rankOfCorrect(scores: ArrayLike<number>, correct: readonly number[]): number {
  let best = Number.NEGATIVE_INFINITY;
  for (const c of correct) best = Math.max(best, scores[c]!);
  const isCorrect = new Set(correct);
  let rank = 1;
  for (let i = 0; i < scores.length; i++) {
    if (!isCorrect.has(i) && scores[i]! >= best) rank++;
  }
  return rank;
}

/**
 * Both directions from one similarity matrix. sim: [captions, images] row-major; captionImage[c] is the
 * image caption c describes. Text-to-image: each caption ranks the images. Image-to-text: each image
 * ranks all captions and the first of its own captions counts.
 */
export function evaluateSimilarity(
  sim: Float32Array,
  captionImage: readonly number[],
  imageCount: number,
): { textToImage: RetrievalScores; imageToText: RetrievalScores } {
  const captions = captionImage.length;
  const t2i: number[] = [];
  for (let c = 0; c < captions; c++) {
    t2i.push(rankOfCorrect(sim.subarray(c * imageCount, (c + 1) * imageCount), [captionImage[c]!]));
  }
  const ownCaptions: number[][] = Array.from({ length: imageCount }, () => []);
  captionImage.forEach((image, c) => {
    ownCaptions[image]!.push(c);
  });
  const i2t: number[] = [];
  const column = new Float32Array(captions);
  for (let i = 0; i < imageCount; i++) {
    for (let c = 0; c < captions; c++) column[c] = sim[c * imageCount + i]!;
    i2t.push(rankOfCorrect(column, ownCaptions[i]!));
  }
  return { textToImage: scoresFromRanks(t2i), imageToText: scoresFromRanks(i2t) };
}
