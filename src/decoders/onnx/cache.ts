import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../../core/atomic.js";
import type { DecoderPlan, LeafPlan } from "./plan.js";

/** Version of the graphs' layout (names, inputs, state): bump it whenever build.ts changes what it emits. */
export const GRAPH_FORMAT = 2;

/** Where built decoder graphs are kept by default (core/paths.ts onnxCacheDir). */
export { onnxCacheDir as defaultOnnxCacheDir } from "../../core/paths.js";

/**
 * The folder of one model's graphs: `<cacheDir>/<weights sha256>/v<format>-<structure>`. The structure
 * hash covers what the weights alone do not fix (heads, layer kinds, the ensemble's slicing), so two
 * configs over the same weights never share graphs.
 */
export function graphFolder(cacheDir: string, weightsDigest: string, plan: DecoderPlan): string {
  if (!/^[0-9a-f]{64}$/.test(weightsDigest))
    throw new Error(`onnx runtime: weightsDigest must be a sha256 in hex, got "${weightsDigest}"`);
  const structure = JSON.stringify({
    shape: plan.shape,
    leaves: plan.leaves.map(({ prefix, config, inner, head, gridOffset, pooledOffset, outer, pool }) => ({
      prefix,
      config: graphConfig(config),
      inner,
      head: head && { gridPool: head.gridPool, output: head.output ?? "neck" },
      gridOffset,
      pooledOffset,
      outer,
      pool,
    })),
  });
  const hash = createHash("sha256").update(structure).digest("hex").slice(0, 12);
  return path.join(cacheDir, weightsDigest, `v${GRAPH_FORMAT}-${hash}`);
}

/** What of a config shapes the graphs, defaults filled in (a config as written and as resolved agree). */
function graphConfig(config: LeafPlan["config"]): Record<string, unknown> {
  if (config.kind === "transformer") {
    const { layers, modelDim, heads, feedForwardDim, maxLength } = config;
    return { kind: config.kind, layers, modelDim, heads, feedForwardDim, maxLength: maxLength ?? 32 };
  }
  const { embedDim, hiddenDim, attentionDim, featureBatchNorm, gate } = config;
  return {
    kind: config.kind,
    embedDim,
    hiddenDim,
    attentionDim,
    featureBatchNorm: featureBatchNorm ?? false,
    gate: gate ?? "channel",
  };
}

export interface DecoderGraphs {
  start: Uint8Array;
  step: Uint8Array;
}

const FILES = { start: "start.onnx", step: "step.onnx" } as const;

/** The cached graphs of `folder`, or undefined when any is missing. */
export async function readGraphs(folder: string): Promise<DecoderGraphs | undefined> {
  try {
    const [start, step] = await Promise.all([
      readFile(path.join(folder, FILES.start)),
      readFile(path.join(folder, FILES.step)),
    ]);
    return { start, step };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Writes each graph to a temporary name and renames it into place: readers never see a partial file. */
export async function writeGraphs(folder: string, graphs: DecoderGraphs): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const key of ["start", "step"] as const) {
    await writeFileAtomic(path.join(folder, FILES[key]), graphs[key]);
  }
}
