import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import { writeFileAtomic } from "../core/atomic.js";
import { loadOnnxRuntime, type OnnxRuntime } from "../core/onnxruntime.js";
import { onnxCacheDir } from "../core/paths.js";
import { initTfjs } from "../tfjs/init.js";
import { blockMeanNhwc } from "./grid-pool.js";
import { isKerasModel, kerasToOnnx } from "./keras-to-onnx.js";
import { spatialMean } from "./onnx-encoder.js";
import { GraphSpecEncoder, type TfjsEncoderSpec } from "./tfjs-encoder.js";
import { tfjsGraphToOnnx } from "./tfjs-to-onnx.js";
import type { EncodedBatch, Encoder, SharedRunEncoder } from "./types.js";

export interface OnnxGraphEncoderOptions {
  /** onnxruntime intra-op threads (0 = onnxruntime's default, one per core). */
  threads?: number;
}

/** One onnxruntime session shared by the cuts of one graph, so a joined encoder runs the graph once. */
interface SharedSession {
  session: ort.InferenceSession | undefined;
  runtime: OnnxRuntime;
  inputName: string;
  members: OnnxGraphEncoder[];
}

function fetchesOf(spec: TfjsEncoderSpec): string[] {
  return spec.pooledNode ? [spec.gridNode, spec.pooledNode] : [spec.gridNode];
}

/**
 * A built-in encoder (a frozen tfjs graph) run by onnxruntime-node: the graph is converted to ONNX in
 * memory at load time (tfjs-to-onnx.ts). Same input, layout and outputs as TfjsGraphEncoder, equal
 * within float rounding, so feature caches and trained models work with either runtime.
 *
 * Several cuts of one graph (e.g. `centernet_448_grid14` and `centernet_448_expand_grid14`, parts of
 * an ensemble's encoder) can share one session made with `createGroup`: `encodeShared` then runs the
 * graph once and returns every cut's features, which `ConcatEncoder` uses.
 */
export class OnnxGraphEncoder extends GraphSpecEncoder implements SharedRunEncoder {
  private disposed = false;

  private constructor(
    spec: TfjsEncoderSpec,
    private readonly shared: SharedSession,
  ) {
    super(spec);
  }

  static async create(
    spec: TfjsEncoderSpec,
    options: OnnxGraphEncoderOptions = {},
  ): Promise<OnnxGraphEncoder> {
    const [encoder] = await OnnxGraphEncoder.createGroup([spec], options);
    return encoder as OnnxGraphEncoder;
  }

  /** Encoders for several cuts of one graph (same artifacts and input size) sharing one session. */
  static async createGroup(
    specs: readonly TfjsEncoderSpec[],
    options: OnnxGraphEncoderOptions = {},
  ): Promise<OnnxGraphEncoder[]> {
    const [first] = specs;
    if (!first) throw new Error("createGroup needs at least one encoder spec");
    for (const spec of specs) {
      if (spec.artifacts !== first.artifacts || spec.inputSize !== first.inputSize) {
        throw new Error(
          `encoders ${first.name} and ${spec.name} are not cuts of one graph at one input size`,
        );
      }
    }
    const outputs = [...new Set(specs.flatMap(fetchesOf))];
    const model = await convertedGraph(first, outputs);
    const runtime = await loadOnnxRuntime();
    const session = await runtime.InferenceSession.create(model, {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    const shared: SharedSession = { session, runtime, inputName: session.inputNames[0]!, members: [] };
    shared.members = specs.map((spec) => new OnnxGraphEncoder(spec, shared));
    return shared.members;
  }

  /** The encoders sharing this one's session (itself included). */
  get sharedWith(): readonly Encoder[] {
    return this.shared.members;
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    return (await this.run(images, count, [this])).get(this) as EncodedBatch;
  }

  /** Every encoder of the shared session on the same images, from one run of the graph. */
  encodeShared(images: Float32Array, count: number): Promise<Map<Encoder, EncodedBatch>> {
    return this.run(images, count, this.shared.members);
  }

  private async run(
    images: Float32Array,
    count: number,
    members: readonly OnnxGraphEncoder[],
  ): Promise<Map<Encoder, EncodedBatch>> {
    const session = this.shared.session;
    if (!session || this.disposed) throw new Error(`encoder ${this.name} was disposed`);
    const s = this.inputSize;
    const per = this.floatsPerImage(images, count);
    const outputs = new Map<Encoder, EncodedBatch>(
      members.map((m) => [
        m,
        {
          grid: new Float32Array(count * m.gridShape[0] * m.gridShape[1] * m.gridShape[2]),
          pooled: new Float32Array(count * m.pooledSize),
          count,
        },
      ]),
    );
    const maxBatch = Math.min(...members.map((m) => m.spec.maxBatch));
    const fetches = [...new Set(members.flatMap((m) => fetchesOf(m.spec)))];
    for (let start = 0; start < count; start += maxBatch) {
      const n = Math.min(maxBatch, count - start);
      // [n, s, s, 3] NHWC: the graph transposes to NCHW itself
      const input = new this.shared.runtime.Tensor(
        "float32",
        images.subarray(start * per, (start + n) * per),
        [n, s, s, 3],
      );
      const results = await session.run({ [this.shared.inputName]: input }, fetches);
      try {
        for (const member of members) member.collect(results, n, start, outputs.get(member) as EncodedBatch);
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
    }
    return outputs;
  }

  /** Copies this cut's grid (block-averaged if its spec says so) and pooled vector out of a run. */
  private collect(
    results: ort.InferenceSession.ReturnType,
    n: number,
    start: number,
    out: EncodedBatch,
  ): void {
    const [gh, gw, gc] = this.gridShape;
    const g = results[this.spec.gridNode]!;
    const k = this.spec.gridPool ?? 1;
    if (g.dims.join("x") !== [n, gh * k, gw * k, gc].join("x")) {
      throw new Error(
        `encoder ${this.name}: graph gave a ${g.dims.join("x")} grid, expected ${[n, gh * k, gw * k, gc].join("x")}`,
      );
    }
    const rawGrid = g.data as Float32Array;
    const gridData = k > 1 ? blockMeanNhwc(rawGrid, n, gh * k, gw * k, gc, k) : rawGrid;
    out.grid.set(gridData, start * gh * gw * gc);
    // [n, pooledSize]: the graph's pooled node, or the spatial mean of the grid
    const p = this.spec.pooledNode
      ? (results[this.spec.pooledNode]!.data as Float32Array)
      : spatialMean(gridData, n, gh * gw, gc);
    out.pooled.set(p, start * this.pooledSize);
  }

  /** Releases the shared session once every encoder sharing it is disposed. */
  dispose(): void {
    this.disposed = true;
    const { members } = this.shared;
    const index = members.indexOf(this);
    if (index >= 0) members.splice(index, 1);
    if (members.length === 0) {
      void this.shared.session?.release();
      this.shared.session = undefined;
    }
  }
}

/** Version of the tfjs/Keras-to-ONNX conversion: bump it when the converters change what they emit. */
export const ENCODER_GRAPH_FORMAT = 2;

/**
 * The graph as ONNX: read from the cache (onnxCacheDir()/encoders/) when this conversion was made
 * before, else converted from the tfjs artifacts (tfjs decodes their quantized weights, the slow part
 * of a cold start) and cached, written atomically.
 */
async function convertedGraph(spec: TfjsEncoderSpec, outputs: readonly string[]): Promise<Uint8Array> {
  const id = spec.artifactsId?.();
  const key = id
    ? createHash("sha256")
        .update(JSON.stringify({ format: ENCODER_GRAPH_FORMAT, id, outputs, inputSize: spec.inputSize }))
        .digest("hex")
    : undefined;
  const file = key ? path.join(onnxCacheDir(), "encoders", `${key}.onnx`) : undefined;
  if (file && existsSync(file)) return new Uint8Array(await readFile(file));
  await initTfjs();
  const artifacts = await spec.artifacts();
  const model = isKerasModel(artifacts)
    ? kerasToOnnx(artifacts, outputs)
    : tfjsGraphToOnnx(artifacts, { outputs, inputSize: spec.inputSize });
  if (file) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, model);
  }
  return model;
}
