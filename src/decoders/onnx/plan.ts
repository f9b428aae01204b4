import { EnsembleDecoder, gridPoolBetween } from "../ensemble.js";
import { decoderCapacity } from "../runtime.js";
import type {
  CaptionDecoder,
  DecoderConfig,
  DecoderShape,
  FeatureHeadConfig,
  ShowAttendTellConfig,
  TransformerDecoderConfig,
} from "../types.js";

/**
 * What the graphs of a decoder are made of, read from its configs alone (no weights): one leaf per
 * ensemble member (or the decoder itself), with the slice of the features it reads. The runtime uses it
 * to name and shape the graphs' inputs and outputs, the builders to lay the graphs out.
 */
export interface DecoderPlan {
  /** The features the whole decoder reads. */
  shape: DecoderShape;
  leaves: LeafPlan[];
  /** Width of imageVectors (the leaves' vectors side by side). */
  vectorWidth: number;
  /** Longest caption in words (the first member's, as EnsembleDecoder). */
  maxWords: number;
}

export interface LeafPlan {
  /** Prefix of the leaf's graph values: `m0_`, `m1_`, ... */
  prefix: string;
  /**
   * The decoder whose `variables`/`buffers` hold the leaf's weights (a HeadedDecoder holds the head's
   * too); absent in a plan made from configs alone, which can find graphs but not build them.
   */
  decoder?: CaptionDecoder;
  /** The decoder proper's config (without the head) and the shape of what it reads (after the head). */
  config: TransformerDecoderConfig | ShowAttendTellConfig;
  inner: DecoderShape;
  head?: FeatureHeadConfig;
  /** The leaf's own input: channel offsets in the whole grid/pooled vector, its widths and grid pooling. */
  gridOffset: number;
  pooledOffset: number;
  outer: DecoderShape;
  /** k of the k x k block means taking the whole grid to the leaf's grid (1 = none). */
  pool: number;
}

const TAIL_CHANNELS = { neck: 480, expand: 720 } as const;

/** The decoder proper's input shape behind a CenterNet tail (as CenterNetTail.outputShape). */
function headShape(outer: DecoderShape, head: FeatureHeadConfig): DecoderShape {
  const channels = TAIL_CHANNELS[head.output ?? "neck"];
  const side = 14 / head.gridPool;
  return { ...outer, regions: side * side, featureDim: channels, pooledDim: channels };
}

/** What a decoder (or one ensemble member) is, as its model.json says: enough to plan its graphs. */
export interface DecoderSpec {
  config: DecoderConfig;
  shape: DecoderShape;
}

/** The plan of a decoder: the weights of its leaves are read from it (and its members) when building. */
export function planDecoder(decoder: CaptionDecoder): DecoderPlan {
  const members = decoder instanceof EnsembleDecoder ? decoder.members : [decoder];
  for (const m of members)
    if (m instanceof EnsembleDecoder) throw new Error("onnx runtime: nested ensembles are not supported");
  return planSpecs(members, members);
}

/**
 * The plan of a decoder from its members' configs and shapes alone (one spec, or an ensemble's), as
 * EnsembleDecoder lays them out: enough to find its cached graphs without building it on tfjs. Building
 * graphs needs the decoders (`weights`), one per spec.
 */
export function planSpecs(members: readonly DecoderSpec[], weights?: readonly CaptionDecoder[]): DecoderPlan {
  const [first] = members;
  if (!first) throw new Error("onnx runtime: a decoder plan needs at least one decoder");
  const regions = Math.max(...members.map((m) => m.shape.regions));
  let gridOffset = 0;
  let pooledOffset = 0;
  const leaves = members.map((member, i): LeafPlan => {
    const { featureHead, ...config } = member.config;
    if (config.kind !== "transformer" && config.kind !== "show-attend-tell")
      throw new Error(`onnx runtime: no graphs for decoder kind ${(config as { kind: string }).kind}`);
    if (featureHead && featureHead.kind !== "centernet-tail")
      throw new Error(`onnx runtime: no graphs for feature head ${featureHead.kind}`);
    const decoder = weights?.[i];
    const leaf: LeafPlan = {
      prefix: `m${i}_`,
      ...(decoder ? { decoder } : {}),
      config: config as LeafPlan["config"],
      inner: featureHead ? headShape(member.shape, featureHead) : member.shape,
      ...(featureHead ? { head: featureHead } : {}),
      gridOffset,
      pooledOffset,
      outer: member.shape,
      pool: members.length > 1 ? (gridPoolBetween(regions, member.shape.regions) ?? 1) : 1,
    };
    gridOffset += member.shape.featureDim;
    pooledOffset += member.shape.pooledDim;
    return leaf;
  });
  const vectorWidth = leaves.reduce((sum, l) => sum + (l.head ? l.inner.pooledDim : l.outer.pooledDim), 0);
  const shape =
    members.length === 1
      ? first.shape
      : {
          vocabSize: first.shape.vocabSize,
          regions: first.shape.regions,
          featureDim: gridOffset,
          pooledDim: pooledOffset,
        };
  return { shape, leaves, vectorWidth, maxWords: decoderCapacity(first.config) };
}

/** Per-image values the start graph hands the step graph (read-only for a whole session). */
export function imageTensorNames(leaf: LeafPlan): string[] {
  const p = leaf.prefix;
  if (leaf.config.kind === "transformer") {
    return Array.from({ length: leaf.config.layers }, (_, l) => [
      `${p}cross_key_${l}`,
      `${p}cross_value_${l}`,
    ]).flat();
  }
  return [`${p}grid`, `${p}grid_projected`];
}

/**
 * Per-row state the step graph reads and returns (as `<name>_next`), with its dims for `rows` rows
 * before the first step. Values named in `fromStart` start as the start graph's per-image output of that
 * name, gathered by row; the others start empty (a transformer's self-attention cache).
 */
export function rowTensors(leaf: LeafPlan): { name: string; empty?: (rows: number) => number[] }[] {
  const p = leaf.prefix;
  if (leaf.config.kind === "transformer") {
    const { heads, modelDim, layers } = leaf.config;
    const headDim = modelDim / heads;
    return Array.from({ length: layers }, (_, l) => [
      // keys transposed ([rows, heads, headDim, t]) so each step's product needs no transpose
      { name: `${p}self_key_${l}`, empty: (rows: number) => [rows, heads, headDim, 0] },
      { name: `${p}self_value_${l}`, empty: (rows: number) => [rows, heads, 0, headDim] },
    ]).flat();
  }
  return [{ name: `${p}h` }, { name: `${p}c` }];
}
