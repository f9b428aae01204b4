import type { CaptionDecoder } from "../decoders/types.js";
import type { Shard } from "./workers.js";

/**
 * The decoders draw each dropout seed from a per-instance call counter that the CaptionDecoder interface
 * does not expose. A resumed run builds a fresh decoder whose counter starts at 0, so without restoring
 * it the dropout masks (and the weights) would differ from the uninterrupted run.
 */
export function dropoutCounter(decoder: CaptionDecoder): { dropoutCalls?: number } {
  return decoder as unknown as { dropoutCalls?: number };
}

/**
 * Split of a batch over threads. "interleaved" balances length-sorted batches; "contiguous" keeps the
 * captions of one image (grouped batches, self-critical samples) in one shard, so its features are read
 * and its feature head run once. With several threads each shard gets a dropout counter derived from
 * the step, so replicas never reuse masks and a resumed run draws the same ones. `captionWeights`
 * (self-critical steps) are split alongside.
 */
export function splitShards(
  ids: readonly string[],
  views: readonly number[],
  captions: readonly number[][],
  threads: number,
  step: number,
  captionWeights?: readonly number[],
  layout: "interleaved" | "contiguous" = "interleaved",
): Shard[] {
  const count = Math.max(1, Math.min(threads, captions.length));
  const size = Math.ceil(captions.length / count);
  const inShard = (row: number, k: number) =>
    layout === "contiguous" ? Math.floor(row / size) === k : row % count === k;
  return Array.from({ length: count }, (_, k) => {
    const rows = [...captions.keys()].filter((row) => inShard(row, k));
    const shard: Shard = {
      ids: rows.map((row) => ids[row]!),
      views: rows.map((row) => views[row]!),
      captions: rows.map((row) => captions[row]!),
      dropoutCalls: (step * 8 + k) * 100_000,
    };
    if (captionWeights) shard.captionWeights = rows.map((row) => captionWeights[row]!);
    return shard;
  });
}
