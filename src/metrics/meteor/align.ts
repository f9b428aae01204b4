/**
 * METEOR 1.5's word aligner (edu.cmu.meteor.aligner.Aligner), reproduced in behaviour:
 * - every stage proposes one-word matches: exact for equal words, stem and synonym only for
 *   DIFFERENT words; a pair can carry matches from several stages;
 * - reference positions with a single match whose two words are matched by nothing else are fixed;
 * - a beam search (beam 40) walks the reference left to right and ranks partial alignments by
 *   weighted coverage (alignment weights 1 exact, 0.5 stem/synonym: not the scoring weights), then
 *   fewer chunks, then smaller total distance. The reference adds a chosen match's distance to the
 *   path that skips it (a quirk that only affects tie-breaks); that is copied too.
 */

/** A one-word match between hypothesis word `hyp` and reference word `ref`. */
export interface Match {
  hyp: number;
  ref: number;
  /** Index of the stage that produced it (0 exact, 1 stem, 2 synonym). */
  stage: number;
}

export interface Alignment {
  /** Chosen matches in reference order. */
  matches: Match[];
  chunks: number;
}

export type Matcher<T> = (hypWord: T, refWord: T) => boolean;

const BEAM = 40;
const ALIGNMENT_WEIGHTS = [1, 0.5, 0.5];

interface Path {
  /** Chosen match per reference position (null: none). */
  matches: (Match | null)[];
  hypUsed: Uint8Array;
  refUsed: Uint8Array;
  /** Next reference position this path still has to decide. */
  idx: number;
  /** Hypothesis position after the last match, -1 when no chunk is open. */
  lastMatchEnd: number;
  coverage: number;
  chunks: number;
  distance: number;
}

function compare(x: Path, y: Path): number {
  if (y.coverage !== x.coverage) return y.coverage > x.coverage ? 1 : -1;
  if (x.chunks !== y.chunks) return x.chunks - y.chunks;
  return x.distance - y.distance;
}

function copy(path: Path): Path {
  return {
    ...path,
    matches: path.matches.slice(),
    hypUsed: path.hypUsed.slice(),
    refUsed: path.refUsed.slice(),
  };
}

/** Adds match `m` to `path` (its coverage and chunk bookkeeping). */
function extend(path: Path, m: Match): void {
  path.coverage += 2 * ALIGNMENT_WEIGHTS[m.stage]!;
  if (path.lastMatchEnd !== -1 && m.hyp !== path.lastMatchEnd) path.chunks++;
  path.idx = m.ref + 1;
  path.lastMatchEnd = m.hyp + 1;
}

/**
 * Candidate matches grouped by reference position, in stage order. Stage 0 is exact (`same`); the
 * other stages only see pairs of different words.
 */
export function candidateMatches<T>(
  hyp: readonly T[],
  ref: readonly T[],
  same: Matcher<T>,
  stages: readonly Matcher<T>[],
): Match[][] {
  const byRef: Match[][] = ref.map(() => []);
  // Identical sentences only need exact matches (the reference does this to avoid search errors).
  const identical = hyp.length === ref.length && hyp.every((word, i) => same(word, ref[i]!));
  for (let j = 0; j < ref.length; j++) {
    for (let i = 0; i < hyp.length; i++)
      if (same(hyp[i]!, ref[j]!)) byRef[j]!.push({ hyp: i, ref: j, stage: 0 });
  }
  if (identical) return byRef;
  stages.forEach((matches, index) => {
    for (let j = 0; j < ref.length; j++) {
      for (let i = 0; i < hyp.length; i++) {
        if (!same(hyp[i]!, ref[j]!) && matches(hyp[i]!, ref[j]!))
          byRef[j]!.push({ hyp: i, ref: j, stage: index + 1 });
      }
    }
  });
  return byRef;
}

/** Best alignment of a hypothesis of `hypLength` words to the reference, given its candidate matches. */
export function align(byRef: readonly Match[][], hypLength: number): Alignment {
  const hypCoverage = new Int32Array(hypLength);
  for (const options of byRef) for (const m of options) hypCoverage[m.hyp]!++;
  const start: Path = {
    matches: byRef.map(() => null),
    hypUsed: new Uint8Array(hypLength),
    refUsed: new Uint8Array(byRef.length),
    idx: 0,
    lastMatchEnd: -1,
    coverage: 0,
    chunks: 0,
    distance: 0,
  };
  // One-to-one matches that compete with nothing are definite.
  byRef.forEach((options, j) => {
    const m = options[0];
    if (options.length === 1 && m && hypCoverage[m.hyp] === 1) {
      start.matches[j] = m;
      start.refUsed[j] = 1;
      start.hypUsed[m.hyp] = 1;
    }
  });

  let next: Path[] = [start];
  for (let current = 0; current <= byRef.length; current++) {
    const paths = next.sort(compare);
    next = [];
    for (let rank = 0; rank < BEAM && rank < paths.length; rank++) {
      const path = paths[rank]!;
      if (current === byRef.length) {
        if (path.lastMatchEnd !== -1) path.chunks++;
        next.push(path);
        continue;
      }
      if (path.refUsed[current]) {
        const fixed = path.matches[current];
        if (current < path.idx) next.push(path);
        else if (fixed) {
          extend(path, fixed);
          path.distance += Math.abs(fixed.ref - fixed.hyp);
          next.push(path);
        }
        continue;
      }
      for (const m of byRef[current]!) {
        if (path.hypUsed[m.hyp] || path.refUsed[m.ref]) continue;
        const branch = copy(path);
        branch.hypUsed[m.hyp] = 1;
        branch.refUsed[m.ref] = 1;
        branch.matches[current] = m;
        extend(branch, m);
        path.distance += Math.abs(m.ref - m.hyp); // sic: the reference updates the skipping path
        next.push(branch);
      }
      if (path.lastMatchEnd !== -1) {
        path.chunks++;
        path.lastMatchEnd = -1;
      }
      path.idx++;
      next.push(path);
    }
    if (next.length === 0) next.push(paths[0]!);
  }
  const best = next.sort(compare)[0]!;
  const matches = best.matches.filter((m): m is Match => m !== null);
  return { matches, chunks: countChunks(matches) };
}

/** Chunks of matches in reference order: a chunk breaks at a reference gap or a hypothesis jump. */
function countChunks(matches: readonly Match[]): number {
  let chunks = 0;
  let previous: Match | undefined;
  for (const m of matches) {
    if (!previous || m.ref !== previous.ref + 1 || m.hyp !== previous.hyp + 1) chunks++;
    previous = m;
  }
  return chunks;
}
