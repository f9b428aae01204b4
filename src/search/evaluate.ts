import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import type { JointEmbedding } from "./embedding/model.js";
import { embeddingSimilarity } from "./embedding/similarity.js";
import { rankFullText } from "./rankers/fts.js";
import { evaluateSimilarity, type RetrievalScores } from "./retrieval-metrics.js";
import { GENERATIVE_CANDIDATES, type RankingMethod } from "./types.js";

/** A retrieval benchmark: images with their human captions, and what each method needs to rank them. */
export interface RetrievalSet {
  ids: string[];
  /** Human captions per image (the queries for text-to-image, the items for image-to-text). */
  captions: string[][];
  /** [images, imageDim] pooled vectors of the embedding's encoder. */
  pooled?: Float32Array;
  /** One generated caption per image (what `captionkit index` stores; FTS searches these). */
  generated?: string[];
  /** Length-normalised log p(text | image i) for the listed images (generative ranking). */
  scoreText?: (text: string, images: readonly number[]) => Promise<Float32Array>;
}

export interface RetrievalEvalOptions {
  methods: RankingMethod[];
  embedding?: JointEmbedding;
  /** Shortlist (embedding, else fts) that generative ranking re-scores per query. Default 50. */
  generativeCandidates?: number;
  log?: (line: string) => void;
}

export interface MethodScores {
  textToImage: RetrievalScores;
  imageToText: RetrievalScores;
  seconds: number;
}

/** Fills a similarity matrix [captions, images] per method and scores both directions. */
export async function evaluateRetrievalSet(
  set: RetrievalSet,
  options: RetrievalEvalOptions,
): Promise<Partial<Record<RankingMethod, MethodScores>>> {
  const n = set.ids.length;
  const captionImage = set.captions.flatMap((caps, i) => caps.map(() => i));
  const queries = set.captions.flat();
  const results: Partial<Record<RankingMethod, MethodScores>> = {};
  const cache = new Map<RankingMethod, Float32Array>();
  const log = options.log ?? (() => {});

  const matrix = async (method: RankingMethod): Promise<Float32Array> => {
    const hit = cache.get(method);
    if (hit) return hit;
    let sim: Float32Array;
    if (method === "embedding") sim = embeddingMatrix(set, queries, requireEmbedding(options.embedding));
    else if (method === "fts") sim = ftsMatrix(set, queries);
    else if (method === "fusion") sim = fuseMatrices([await matrix("embedding"), await matrix("fts")], n);
    else {
      // the same shortlist as search: the embedding's top candidates (BM25's without an embedding)
      const pool = await matrix(options.embedding ? "embedding" : "fts");
      sim = await generativeMatrix(
        set,
        queries,
        pool,
        options.generativeCandidates ?? GENERATIVE_CANDIDATES,
        log,
      );
    }
    cache.set(method, sim);
    return sim;
  };

  for (const method of options.methods) {
    const started = Date.now();
    const sim = await matrix(method);
    const scores = evaluateSimilarity(sim, captionImage, n);
    results[method] = { ...scores, seconds: (Date.now() - started) / 1000 };
    log(
      `${method}: text->image R@5 ${scores.textToImage["R@5"].toFixed(3)} R@10 ${scores.textToImage["R@10"].toFixed(3)}`,
    );
  }
  return results;
}

function requireEmbedding(model: JointEmbedding | undefined): JointEmbedding {
  if (!model) throw new Error("the embedding method needs a joint-embedding model (--embedding-model DIR)");
  return model;
}

function embeddingMatrix(set: RetrievalSet, queries: string[], model: JointEmbedding): Float32Array {
  if (!set.pooled) throw new Error(`the embedding method needs ${model.config.encoder} pooled features`);
  return embeddingSimilarity(model, set.pooled, queries);
}

/**
 * BM25 through the same FTS5 table and query builder as a real index (an in-memory one): each human
 * caption searches the generated captions. Images the query does not match score -Infinity.
 */
function ftsMatrix(set: RetrievalSet, queries: string[]): Float32Array {
  if (!set.generated) throw new Error("the fts method needs generated captions (a caption model)");
  const n = set.ids.length;
  const db = openDatabase(":memory:");
  try {
    const store = new PhotoStore(db);
    const rowOf = new Map<number, number>();
    db.transaction(() => {
      set.generated!.forEach((caption, i) => {
        const id = store.putImage({
          path: set.ids[i]!,
          size: 0,
          mtimeMs: 0,
          hash: String(i),
          caption,
          confidence: 1,
        });
        rowOf.set(id, i);
      });
    })();
    const sim = new Float32Array(queries.length * n).fill(Number.NEGATIVE_INFINITY);
    queries.forEach((query, q) => {
      for (const hit of rankFullText(store, query, n)) sim[q * n + rowOf.get(hit.id)!] = hit.score;
    });
    return sim;
  } finally {
    db.close();
  }
}

/** Reciprocal-rank fusion of full score matrices, row by row (the same formula as the search path). */
export function fuseMatrices(matrices: Float32Array[], n: number, k0 = 60): Float32Array {
  const rows = matrices[0]!.length / n;
  const out = new Float32Array(matrices[0]!.length);
  const order = new Array<number>(n);
  for (let q = 0; q < rows; q++) {
    for (const m of matrices) {
      const row = m.subarray(q * n, (q + 1) * n);
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((a, b) => row[b]! - row[a]!);
      order.forEach((image, rank) => {
        // unmatched items (-Infinity, e.g. no shared word) get no vote, like a result list that ends
        if (row[image]! > Number.NEGATIVE_INFINITY) out[q * n + image]! += 1 / (k0 + rank + 1);
      });
    }
  }
  return out;
}

/**
 * Generative ranking re-scores each query's top candidates from the shortlist method with
 * log p(query | image); the rest keep the shortlist's order below them (an offset keeps every
 * candidate above every non-candidate).
 */
async function generativeMatrix(
  set: RetrievalSet,
  queries: string[],
  pool: Float32Array,
  candidates: number,
  log: (line: string) => void,
): Promise<Float32Array> {
  if (!set.scoreText) throw new Error("the generative method needs a caption model");
  const n = set.ids.length;
  const sim = new Float32Array(queries.length * n);
  const started = Date.now();
  for (let q = 0; q < queries.length; q++) {
    const row = pool.subarray(q * n, (q + 1) * n);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => row[b]! - row[a]!);
    const top = order.slice(0, candidates);
    const scores = await set.scoreText(queries[q]!, top);
    order.forEach((image, rank) => {
      sim[q * n + image] = -1000 - rank;
    });
    top.forEach((image, i) => {
      sim[q * n + image] = scores[i]!;
    });
    if (q % 500 === 499)
      log(`generative: ${q + 1}/${queries.length} queries, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return sim;
}
