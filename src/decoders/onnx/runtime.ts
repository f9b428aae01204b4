import type * as Ort from "onnxruntime-node";
import { loadOnnxRuntime, loadSyncOnnxSessions, type SyncOnnxSession } from "../../core/onnxruntime.js";
import { END_ID, START_ID } from "../../data/vocabulary.js";
import {
  captionPerImage,
  checkBatch,
  type DecoderRuntime,
  type FeatureBatch,
  type StepOutput,
  type StepSession,
  sliceRows,
} from "../runtime.js";
import type { CaptionDecoder, DecoderShape } from "../types.js";
import { buildStartGraph, buildStepGraph } from "./build.js";
import { type DecoderGraphs, defaultOnnxCacheDir, graphFolder, readGraphs, writeGraphs } from "./cache.js";
import { type DecoderPlan, type DecoderSpec, planDecoder, planSpecs, rowTensors } from "./plan.js";

export interface OnnxRuntimeOptions {
  /** sha256 of the model's weights (LoadedModel.weightsDigest): the key of its cached graphs. */
  weightsDigest: string;
  /** Where built graphs are kept; default defaultOnnxCacheDir() (~/.cache/captionkit/onnx). */
  cacheDir?: string;
  /** Intra-op threads of the step graph (default 1: a step is too small to split) and the start graph (default 2). */
  stepThreads?: number;
  startThreads?: number;
  /** Told the folder when the graphs had to be built (and were written there). */
  onBuild?: (folder: string) => void;
}

/**
 * A decoder without its tfjs weights: its members' configs and shapes (one, or an ensemble's, in
 * order, as the model folders' model.json say) and how to load it, which happens only when its graphs
 * are not in the cache yet (the loaded decoder is disposed once they are built).
 */
export interface DecoderSource {
  members: readonly DecoderSpec[];
  load: () => Promise<CaptionDecoder>;
}

/**
 * A decoder on onnxruntime-node: its start and step graphs are built from its weights once and cached
 * (cache.ts); a CaptionDecoder is only read when they are built, and is not owned by the runtime.
 */
export async function createOnnxRuntime(
  decoder: CaptionDecoder | DecoderSource,
  options: OnnxRuntimeOptions,
): Promise<OnnxDecoderRuntime> {
  const source = "load" in decoder ? decoder : undefined;
  const plan = source ? planSpecs(source.members) : planDecoder(decoder as CaptionDecoder);
  const cacheDir = options.cacheDir ?? defaultOnnxCacheDir();
  const folder = graphFolder(cacheDir, options.weightsDigest, plan);
  const build = async (): Promise<DecoderGraphs> => {
    const fresh = source
      ? await buildFromSource(source, (p) => graphFolder(cacheDir, options.weightsDigest, p) === folder)
      : buildGraphs(plan);
    await writeGraphs(folder, fresh);
    options.onBuild?.(folder);
    return fresh;
  };
  const cached = await readGraphs(folder);
  let built = cached === undefined;
  let graphs = cached ?? (await build());
  const ort = await loadOnnxRuntime();
  const create = await loadSyncOnnxSessions();
  const sessionOptions = (threads: number): Ort.InferenceSession.SessionOptions => ({
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const open = (g: DecoderGraphs) => {
    const start = create(g.start, sessionOptions(options.startThreads ?? 2));
    try {
      return { start, step: create(g.step, sessionOptions(options.stepThreads ?? 1)) };
    } catch (err) {
      start.dispose();
      throw err;
    }
  };
  let sessions: ReturnType<typeof open>;
  try {
    sessions = open(graphs);
  } catch (err) {
    if (built) throw err;
    // a damaged cache entry (the files are renamed into place, but disks fail): build it again
    graphs = await build();
    built = true;
    sessions = open(graphs);
  }
  const { start, step } = sessions;
  return new OnnxDecoderRuntime(plan, ort.Tensor, start, step, folder, built);
}

/** Loads the decoder, checks it is the one its configs planned (`matches`), builds, disposes it. */
async function buildFromSource(
  source: DecoderSource,
  matches: (plan: DecoderPlan) => boolean,
): Promise<DecoderGraphs> {
  const decoder = await source.load();
  try {
    const plan = planDecoder(decoder);
    if (!matches(plan))
      throw new Error("onnx runtime: the loaded decoder is not the one its configs describe");
    return buildGraphs(plan);
  } finally {
    decoder.dispose();
  }
}

/** Both graphs of a decoder, built from its weights (no cache). */
export function buildGraphs(plan: DecoderPlan): DecoderGraphs {
  return { start: buildStartGraph(plan), step: buildStepGraph(plan) };
}

type TensorClass = typeof Ort.Tensor;

export class OnnxDecoderRuntime implements DecoderRuntime {
  readonly runtime = "onnx" as const;
  readonly shape: DecoderShape;

  readonly maxWords: number;

  constructor(
    private readonly plan: DecoderPlan,
    private readonly Tensor: TensorClass,
    private readonly startSession: SyncOnnxSession,
    private readonly stepSession: SyncOnnxSession,
    /** Where the graphs are cached, and whether this process built them. */
    readonly graphFolder: string,
    readonly built: boolean,
  ) {
    this.shape = plan.shape;
    this.maxWords = plan.maxWords;
  }

  /** Runs the start graph on the views stacked (view-major) into one batch of images. */
  private runStart(views: readonly FeatureBatch[], fetch?: string[]): Record<string, Ort.Tensor> {
    for (const v of views) checkBatch(v, this.shape);
    const count = views.reduce((sum, v) => sum + v.count, 0);
    const { regions, featureDim, pooledDim } = this.shape;
    const grid = views.length === 1 ? views[0]!.grid : concat(views.map((v) => v.grid));
    const pooled = views.length === 1 ? views[0]!.pooled : concat(views.map((v) => v.pooled));
    const feeds = {
      grid: new this.Tensor("float32", grid, [count, regions, featureDim]),
      pooled: new this.Tensor("float32", pooled, [count, pooledDim]),
    };
    const names = fetch ?? this.startSession.outputNames;
    return this.startSession.run(feeds, Object.fromEntries(names.map((n) => [n, null])), {});
  }

  open(views: readonly FeatureBatch[]): StepSession<OnnxState> {
    const [first] = views;
    if (!first) throw new Error("open: no views");
    if (views.some((v) => v.count !== first.count)) throw new Error("open: views of different batch sizes");
    const images = this.runStart(views);
    return new OnnxSession(
      this.plan,
      this.maxWords,
      this.Tensor,
      this.stepSession,
      images,
      views.length,
      first.count,
    );
  }

  imageVectors(batch: FeatureBatch): Float32Array[] {
    if (batch.count === 0) return [];
    const vectors = this.runStart([batch], ["image_vectors"]).image_vectors!.data as Float32Array;
    const width = this.plan.vectorWidth;
    return Array.from({ length: batch.count }, (_, r) => vectors.slice(r * width, (r + 1) * width));
  }

  /** Teacher-forced through the step graph: the same arithmetic as generation, one step per token. */
  captionLogProbs(
    batch: FeatureBatch,
    captions: readonly number[] | readonly (readonly number[])[],
    chunk = 64,
  ): Float32Array {
    const images = batch.count;
    const captionOf = captionPerImage(captions, images);
    const { vocabSize } = this.shape;
    const out = new Float32Array(images);
    for (let begin = 0; begin < images; begin += chunk) {
      const count = Math.min(chunk, images - begin);
      const rows = Array.from({ length: count }, (_, i) => captionOf(begin + i));
      const steps = Math.max(...rows.map((r) => r.length)) + 1; // <start> + longest caption
      const session = this.open([sliceRows(batch, begin, count)]);
      const sums = new Float64Array(count);
      let state = session.start(Int32Array.from({ length: count }, (_, i) => i));
      const previous = new Int32Array(count);
      for (let t = 0; t < steps; t++) {
        rows.forEach((row, i) => {
          previous[i] = t === 0 ? START_ID : (row[t - 1] ?? 0); // <pad> (0) once a caption has ended
        });
        const { logProbs, state: next } = session.step(state, previous);
        session.release(state);
        state = next;
        rows.forEach((row, i) => {
          const target = t < row.length ? row[t]! : t === row.length ? END_ID : 0;
          if (target !== 0) sums[i] = sums[i]! + logProbs[i * vocabSize + target]!;
        });
      }
      session.release(state);
      session.close();
      rows.forEach((row, i) => {
        out[begin + i] = sums[i]! / (row.length + 1);
      });
    }
    return out;
  }

  dispose(): void {
    this.startSession.dispose();
    this.stepSession.dispose();
  }
}

/** A generation state: which image each row reads (view-major), and the rows' own tensors. */
export interface OnnxState {
  rows: number;
  /** Tokens already seen. */
  position: number;
  /** [views x rows] each row's image among the session's views x images (never mutated: states share it). */
  image: Int32Array;
  tensors: Record<string, Ort.Tensor>;
}

class OnnxSession implements StepSession<OnnxState> {
  private readonly hasTransformer: boolean;
  private readonly lonelyAttention: boolean;
  private readonly fetches: Record<string, null>;
  private readonly rowNames: ReturnType<typeof rowTensors>;
  private imageFeeds: Record<string, Ort.Tensor>;
  /** The per-image values as each state's rows read them (by the state's image array, shared between states). */
  private readonly grouped = new WeakMap<Int32Array, Record<string, Ort.Tensor>>();

  constructor(
    plan: DecoderPlan,
    private readonly maxWords: number,
    private readonly Tensor: TensorClass,
    private readonly session: SyncOnnxSession,
    private readonly images: Record<string, Ort.Tensor>,
    private readonly views: number,
    private readonly count: number,
  ) {
    this.hasTransformer = plan.leaves.some((l) => l.config.kind === "transformer");
    this.rowNames = plan.leaves.flatMap(rowTensors);
    const wanted = new Set(session.inputNames);
    this.imageFeeds = Object.fromEntries(Object.entries(images).filter(([name]) => wanted.has(name)));
    this.lonelyAttention = views === 1 && session.outputNames.includes("attention");
    this.fetches = Object.fromEntries(
      session.outputNames.filter((n) => n !== "attention" || this.lonelyAttention).map((n) => [n, null]),
    );
  }

  imageVectors(): Float32Array[] {
    const vectors = this.images.image_vectors?.data as Float32Array | undefined;
    if (!vectors) return [];
    const width = vectors.length / (this.views * this.count); // views stacked view-major: view 0 first
    return Array.from({ length: this.count }, (_, r) => vectors.slice(r * width, (r + 1) * width));
  }

  start(rows: Int32Array): OnnxState {
    const count = rows.length;
    const image = new Int32Array(this.views * count);
    for (let v = 0; v < this.views; v++)
      for (let j = 0; j < count; j++) {
        const row = rows[j]!;
        if (row < 0 || row >= this.count) throw new Error(`start: row ${row} of a batch of ${this.count}`);
        image[v * count + j] = v * this.count + row;
      }
    const tensors: Record<string, Ort.Tensor> = {};
    for (const { name, empty } of this.rowNames) {
      tensors[name] = empty
        ? new this.Tensor("float32", new Float32Array(0), empty(image.length))
        : gatherRows(this.Tensor, this.images[name]!, image);
    }
    return { rows: count, position: 0, image, tensors };
  }

  step(state: OnnxState, previous: Int32Array): StepOutput<OnnxState> {
    if (previous.length !== state.rows)
      throw new Error(`step: ${previous.length} tokens for ${state.rows} rows`);
    if (state.position > this.maxWords)
      throw new Error(`transformer: more than ${this.maxWords + 1} tokens (the model's maxLength)`);
    const tokens = new Int32Array(this.views * state.rows);
    for (let v = 0; v < this.views; v++) tokens.set(previous, v * state.rows);
    const feeds: Record<string, Ort.Tensor> = {
      ...this.groupFeeds(state.image),
      ...state.tensors,
      tokens: new this.Tensor("int32", tokens, [this.views, state.rows]),
    };
    if (this.hasTransformer)
      feeds.position = new this.Tensor("int64", BigInt64Array.of(BigInt(state.position)), [1]);
    const out = this.session.run(feeds, this.fetches, {});
    const tensors: Record<string, Ort.Tensor> = {};
    for (const { name } of this.rowNames) tensors[name] = out[`${name}_next`]!;
    const next: OnnxState = { rows: state.rows, position: state.position + 1, image: state.image, tensors };
    const logProbs = out.log_probs!.data as Float32Array;
    return this.lonelyAttention
      ? { logProbs, attention: out.attention!.data as Float32Array, state: next }
      : { logProbs, state: next };
  }

  gather(state: OnnxState, rows: Int32Array): OnnxState {
    const count = rows.length;
    const source = new Int32Array(this.views * count); // new row -> old row, per view
    for (let v = 0; v < this.views; v++)
      for (let j = 0; j < count; j++) {
        const row = rows[j]!;
        if (row < 0 || row >= state.rows) throw new Error(`gather: row ${row} of ${state.rows}`);
        source[v * count + j] = v * state.rows + row;
      }
    const moved = source.map((r) => state.image[r]!);
    // beams move within their image: the rows then read the same images, and share the grouping
    const same = moved.length === state.image.length && moved.every((m, i) => m === state.image[i]);
    const image = same ? state.image : moved;
    const tensors: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(state.tensors)) tensors[name] = gatherRows(this.Tensor, t, source);
    return { rows: count, position: state.position, image, tensors };
  }

  /**
   * The per-image values for rows reading `image`, one set per group of k consecutive rows reading one
   * image (beams: k per image; greedy: k = 1): as they are when the groups read every image in order,
   * else the groups' images copied out (once per distinct `image`: states share the array until rows
   * move to other images).
   */
  private groupFeeds(image: Int32Array): Record<string, Ort.Tensor> {
    let feeds = this.grouped.get(image);
    if (!feeds) {
      const groups = groupImages(image);
      const all = this.views * this.count;
      const inOrder = groups.length === all && groups.every((m, i) => m === i);
      feeds = inOrder
        ? this.imageFeeds
        : Object.fromEntries(
            Object.entries(this.imageFeeds).map(([name, t]) => [name, gatherRows(this.Tensor, t, groups)]),
          );
      this.grouped.set(image, feeds);
    }
    return feeds;
  }

  release(_state: OnnxState): void {
    // the state's arrays are plain JS memory: the garbage collector frees them
  }

  close(): void {
    this.imageFeeds = {};
  }
}

/**
 * The image of each group when `image` splits into groups of k consecutive rows reading one image, for
 * the largest such k that the first run of equal values allows (1 at worst: every row its own group).
 */
export function groupImages(image: Int32Array): Int32Array {
  let k = 1;
  while (k < image.length && image[k] === image[0]) k++;
  for (; k > 1; k--) {
    if (image.length % k !== 0) continue;
    let fits = true;
    for (let i = 0; i < image.length && fits; i++) fits = image[i] === image[i - (i % k)];
    if (fits) break;
  }
  return Int32Array.from({ length: image.length / k }, (_, g) => image[g * k]!);
}

/** Rows `rows` (axis 0) of a float tensor, as a new tensor. */
function gatherRows(Tensor: TensorClass, t: Ort.Tensor, rows: Int32Array): Ort.Tensor {
  const dims = [...t.dims];
  const data = t.data as Float32Array;
  const width = dims[0] === 0 ? 0 : data.length / (dims[0] as number);
  const out = new Float32Array(rows.length * width);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j]!;
    out.set(data.subarray(r * width, (r + 1) * width), j * width);
  }
  dims[0] = rows.length;
  return new Tensor("float32", out, dims);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
