import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomicSync } from "../core/atomic.js";
import type { VocabularyJson } from "../data/vocabulary.js";
import type { DecoderShape } from "../decoders/types.js";
import { ENSEMBLE_FORMAT } from "../model/format.js";
import { loadSingleModel } from "../model/single.js";
import type { TrainConfig } from "./config.js";
import type { AdamState } from "./optimizer.js";

/** What every checkpoint holds besides its stage's own fields: enough to rebuild the decoder and continue. */
interface CheckpointCommon {
  format: "captionkit-checkpoint";
  /** 2: SCST checkpoints have their own fields (version 1 stored them in the cross-entropy ones). */
  version: 2;
  config: TrainConfig;
  vocabulary: VocabularyJson;
  encoder: string;
  shape: DecoderShape;
  /** Optimizer steps taken in this stage, and by its optimizer (Adam's bias correction counts them). */
  step: number;
  optimizerStep: number;
  /** Epoch of this stage in progress (0-based) and the number of its batches already done. */
  epoch: number;
  batchInEpoch: number;
  /** State of the RNG stream that stands in for Math.random during training steps (and samples SCST's captions). */
  rngState: number;
  /** The decoder's dropout call counter (its dropout seeds derive from it), when it has one. */
  dropoutCalls?: number;
  /** Seconds of optimizer steps in this stage so far (excluding validation). */
  trainSeconds: number;
  /** This stage's per-epoch log records so far (the curve is redrawn from them). */
  history: EpochRecord[];
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

/** A cross-entropy checkpoint (last.ckpt, best.ckpt). */
export interface CrossEntropyCheckpoint extends CheckpointCommon {
  stage: "xe";
  /** Train loss accumulators of the epoch in progress (so its log line matches an uninterrupted run). */
  epochLossSum: number;
  epochTokens: number;
  /** Best epoch score so far (val CIDEr-D, or minus the val loss without val images) and its epoch (-1: none). */
  bestScore: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  /** Seconds of training in the epoch in progress, for tokens/s. */
  epochSeconds: number;
  /** Target tokens trained on so far. */
  tokensSeen: number;
}

/** A self-critical checkpoint (scst-last.ckpt, scst-best.ckpt). */
export interface ScstCheckpoint extends CheckpointCommon {
  stage: "scst";
  /** Sum and count of the sampled captions' CIDEr-D rewards in the epoch in progress (its mean is logged). */
  rewardSum: number;
  rewardCount: number;
  /**
   * Best val CIDEr-D (greedy, the fixed subset) so far, starting at the cross-entropy model's, and the
   * SCST epoch that reached it (-1: none did, the cross-entropy weights are kept).
   */
  bestCiderD: number;
  bestEpoch: number;
}

/** Everything besides tensors that a resumed run needs to continue exactly where it stopped. */
export type CheckpointManifest = CrossEntropyCheckpoint | ScstCheckpoint;

/** A manifest as a stage hands it to saveCheckpoint (format, version and tensor table are added). */
export type CheckpointState =
  | Omit<CrossEntropyCheckpoint, CheckpointFileFields>
  | Omit<ScstCheckpoint, CheckpointFileFields>;
type CheckpointFileFields = "format" | "version" | "tensors";

export interface EpochRecord {
  stage: "xe" | "scst";
  epoch: number;
  step: number;
  trainLoss: number;
  valLoss: number;
  bleu4: number;
  ciderD: number;
  learningRate: number;
  tokensPerSecond: number;
  seconds: number;
}

const MAGIC = "CKPT1";

/**
 * One file: magic, 4-byte header length, JSON manifest, then float32 tensors. A single file can be
 * replaced atomically (write to a temp name, fsync, rename), so a kill mid-write leaves the previous
 * checkpoint intact.
 */
export function saveCheckpoint(
  file: string,
  manifest: CheckpointState,
  weights: ReadonlyMap<string, tf.Variable>,
  optimizer: AdamState,
  buffers: ReadonlyMap<string, tf.Variable> = new Map(),
): void {
  const tensors: CheckpointManifest["tensors"] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], data: Float32Array) => {
    tensors.push({ name, shape, offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  };
  for (const [name, variable] of weights)
    add(`w:${name}`, variable.shape, variable.dataSync() as Float32Array);
  for (const [name, variable] of buffers)
    add(`b:${name}`, variable.shape, variable.dataSync() as Float32Array);
  for (const [name, variable] of weights) {
    add(`m:${name}`, variable.shape, optimizer.m[name]!);
    add(`v:${name}`, variable.shape, optimizer.v[name]!);
  }
  const full: CheckpointManifest = { format: "captionkit-checkpoint", version: 2, ...manifest, tensors };
  const header = Buffer.from(JSON.stringify(full), "utf8");
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, "ascii");
  prefix.writeUInt32LE(header.length, MAGIC.length);
  // Pad the header so the float32 block starts 4-byte aligned.
  const pad = Buffer.alloc((4 - ((prefix.length + header.length) % 4)) % 4, 0x20);
  writeFileAtomicSync(file, [
    prefix,
    header,
    pad,
    ...chunks.map((chunk) => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
  ]);
}

export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  weights: Map<string, Float32Array>;
  optimizer: AdamState;
}

export function loadCheckpoint(file: string): LoadedCheckpoint {
  if (!existsSync(file)) throw new Error(`no checkpoint at ${file}: nothing to resume (drop --resume)`);
  const bytes = readFileSync(file);
  if (bytes.toString("ascii", 0, MAGIC.length) !== MAGIC)
    throw new Error(`${file} is not a captionkit checkpoint`);
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  const manifest = upgradeManifest(
    JSON.parse(bytes.toString("utf8", headerStart, headerStart + headerLength)) as StoredManifest,
    file,
  );
  let dataStart = headerStart + headerLength;
  dataStart += (4 - (dataStart % 4)) % 4;
  // Copy into an aligned buffer: the Buffer from readFileSync may not be 4-byte aligned in its pool.
  const floats = new Float32Array(new Uint8Array(bytes.subarray(dataStart)).buffer);
  const weights = new Map<string, Float32Array>();
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const entry of manifest.tensors) {
    const data = floats.slice(entry.offset, entry.offset + entry.length);
    const kind = entry.name.slice(0, 2);
    const name = entry.name.slice(2);
    if (kind === "w:" || kind === "b:") weights.set(`${kind === "b:" ? "#" : ""}${name}`, data);
    else if (kind === "m:") m[name] = data;
    else if (kind === "v:") v[name] = data;
  }
  return { manifest, weights, optimizer: { step: manifest.optimizerStep, m, v } };
}

/** A manifest as a file holds it: this version's, or version 1's (SCST state in the cross-entropy fields). */
type StoredManifest =
  | CheckpointManifest
  | (Omit<CrossEntropyCheckpoint, "version" | "stage"> & { version: 1; stage: "xe" | "scst" });

function upgradeManifest(stored: StoredManifest, file: string): CheckpointManifest {
  const { version } = stored as { version?: unknown };
  if (version !== 1 && version !== 2)
    throw new Error(`${file} is a version ${String(version)} checkpoint: update captionkit to read it`);
  if (stored.version === 2) return stored;
  if (stored.stage === "xe") return { ...stored, version: 2, stage: "xe" };
  // Version 1 wrote SCST's reward sum and count, and its best val CIDEr-D, into these; the rest were zeros.
  const {
    epochLossSum,
    epochTokens,
    bestScore,
    epochsWithoutImprovement: _patience,
    epochSeconds: _epochSeconds,
    tokensSeen: _tokensSeen,
    ...common
  } = stored;
  return {
    ...common,
    version: 2,
    stage: "scst",
    rewardSum: epochLossSum,
    rewardCount: epochTokens,
    bestCiderD: bestScore,
  };
}

/** What assignMatchingWeights did with the variables it could not copy as they are. */
export interface MatchingResult {
  /** Left at their fresh initial values (no weights of that size). */
  fresh: string[];
  /** Input kernels that kept the checkpoint's rows, with the rows for appended inputs at zero. */
  widened: string[];
}

/**
 * Like assignWeights, but only for the variables the checkpoint has at the same size; the others keep
 * their values. For moving a decoder to an encoder of another feature size: the language half carries
 * over, the input projections start fresh. With `appendedInputs`, the new features are the old ones
 * with channels appended (centernet_448 -> centernet_448+colour_448): a dense kernel that only gained
 * input rows keeps the old rows and starts the new ones at zero, so the decoder starts as exactly the
 * old model and training only has to learn what the new channels add.
 */
export function assignMatchingWeights(
  variables: ReadonlyMap<string, tf.Variable>,
  weights: ReadonlyMap<string, Float32Array>,
  buffers: ReadonlyMap<string, tf.Variable> = new Map(),
  options: { appendedInputs?: boolean } = {},
): MatchingResult {
  const matching = (prefix: string, from: ReadonlyMap<string, tf.Variable>) =>
    new Map([...from].filter(([name, variable]) => weights.get(prefix + name)?.length === variable.size));
  const kept = matching("", variables);
  assignWeights(kept, weights, matching("#", buffers));
  const widened: string[] = [];
  for (const [name, variable] of variables) {
    const old = weights.get(name);
    if (!options.appendedInputs || kept.has(name) || !old || !name.endsWith("/kernel")) continue;
    const [rows, columns] = variable.shape as [number, number];
    if (variable.shape.length !== 2 || old.length % columns !== 0 || old.length / columns >= rows) continue;
    // kernels are [inputs, outputs] row-major: the old inputs' rows are a prefix of the new kernel
    const data = new Float32Array(variable.size);
    data.set(old);
    tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, "float32")));
    widened.push(name);
  }
  const done = new Set([...kept.keys(), ...widened]);
  return { fresh: [...variables.keys()].filter((name) => !done.has(name)), widened };
}

/**
 * Copies checkpoint weights into a decoder's variables (names and shapes must match). Buffers
 * (non-trainable state such as batch-norm statistics) are stored under "#name".
 */
export function assignWeights(
  variables: ReadonlyMap<string, tf.Variable>,
  weights: ReadonlyMap<string, Float32Array>,
  buffers: ReadonlyMap<string, tf.Variable> = new Map(),
): void {
  for (const [name, variable] of buffers) {
    const data = weights.get(`#${name}`);
    if (data && data.length === variable.size)
      tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, "float32")));
  }
  for (const [name, variable] of variables) {
    const data = weights.get(name);
    if (!data)
      throw new Error(`checkpoint has no weights for ${name}: was it made with another decoder config?`);
    if (data.length !== variable.size) throw new Error(`checkpoint weights for ${name} have the wrong size`);
    tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, "float32")));
  }
}

/**
 * Weights to start a run from (`initFrom`): a checkpoint file, or a model folder (`captionkit export`
 * output, or one member of an ensemble folder), so a committed model can seed a new run. Buffers carry
 * the `#` prefix, as in checkpoints.
 */
export async function loadInitWeights(source: string): Promise<Map<string, Float32Array>> {
  if (!existsSync(source) || !statSync(source).isDirectory()) return loadCheckpoint(source).weights;
  const json = JSON.parse(readFileSync(path.join(source, "model.json"), "utf8")) as { format?: unknown };
  if (json.format === ENSEMBLE_FORMAT) {
    throw new Error(`initFrom ${source} is an ensemble: name one of its members (${source}/member-1, ...)`);
  }
  const { decoder } = await loadSingleModel(source);
  try {
    const weights = new Map<string, Float32Array>();
    for (const [name, variable] of decoder.variables) weights.set(name, variable.dataSync() as Float32Array);
    for (const [name, buffer] of decoder.buffers ?? [])
      weights.set(`#${name}`, buffer.dataSync() as Float32Array);
    return weights;
  } finally {
    decoder.dispose();
  }
}
