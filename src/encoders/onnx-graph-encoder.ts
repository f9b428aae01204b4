import * as ort from "onnxruntime-node";
import { initBackend } from "../tfjs/backend.js";
import { blockMeanNhwc } from "./grid-pool.js";
import { isKerasModel, kerasToOnnx } from "./keras-to-onnx.js";
import { spatialMean } from "./onnx-encoder.js";
import { GraphSpecEncoder, type TfjsEncoderSpec } from "./tfjs-encoder.js";
import { tfjsGraphToOnnx } from "./tfjs-to-onnx.js";
import type { EncodedBatch, Encoder } from "./types.js";

export interface OnnxGraphEncoderOptions {
  /** onnxruntime intra-op threads (0 = onnxruntime's default, one per core). */
  threads?: number;
}

/**
 * A built-in encoder (a frozen tfjs graph) run by onnxruntime-node: the graph is converted to ONNX in
 * memory at load time (tfjs-to-onnx.ts). Same input, layout and outputs as TfjsGraphEncoder, equal
 * within float rounding, so feature caches and trained models work with either runtime.
 */
export class OnnxGraphEncoder extends GraphSpecEncoder implements Encoder {
  private readonly inputName: string;

  private constructor(
    spec: TfjsEncoderSpec,
    private session: ort.InferenceSession | undefined,
  ) {
    super(spec);
    this.inputName = session!.inputNames[0]!;
  }

  static async create(
    spec: TfjsEncoderSpec,
    options: OnnxGraphEncoderOptions = {},
  ): Promise<OnnxGraphEncoder> {
    // the converter decodes the (quantized) weights through tfjs
    await initBackend();
    const outputs = spec.pooledNode ? [spec.gridNode, spec.pooledNode] : [spec.gridNode];
    const artifacts = await spec.artifacts();
    const model = isKerasModel(artifacts)
      ? kerasToOnnx(artifacts, outputs)
      : tfjsGraphToOnnx(artifacts, { outputs, inputSize: spec.inputSize });
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    return new OnnxGraphEncoder(spec, session);
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const session = this.session;
    if (!session) throw new Error(`encoder ${this.name} was disposed`);
    const s = this.inputSize;
    const per = this.floatsPerImage(images, count);
    const [gh, gw, gc] = this.gridShape;
    const gridPer = gh * gw * gc;
    const grid = new Float32Array(count * gridPer);
    const pooled = new Float32Array(count * this.pooledSize);
    for (let start = 0; start < count; start += this.spec.maxBatch) {
      const n = Math.min(this.spec.maxBatch, count - start);
      // [n, s, s, 3] NHWC: the graph transposes to NCHW itself
      const input = new ort.Tensor("float32", images.subarray(start * per, (start + n) * per), [n, s, s, 3]);
      const fetches = this.spec.pooledNode
        ? [this.spec.gridNode, this.spec.pooledNode]
        : [this.spec.gridNode];
      const results = await session.run({ [this.inputName]: input }, fetches);
      try {
        const g = results[this.spec.gridNode]!;
        const k = this.spec.gridPool ?? 1;
        if (g.dims.join("x") !== [n, gh * k, gw * k, gc].join("x")) {
          throw new Error(
            `encoder ${this.name}: graph gave a ${g.dims.join("x")} grid, expected ${[n, gh * k, gw * k, gc].join("x")}`,
          );
        }
        const rawGrid = g.data as Float32Array;
        const gridData = k > 1 ? blockMeanNhwc(rawGrid, n, gh * k, gw * k, gc, k) : rawGrid;
        grid.set(gridData, start * gridPer);
        // [n, pooledSize]: the graph's pooled node, or the spatial mean of the grid
        const p = this.spec.pooledNode
          ? (results[this.spec.pooledNode]!.data as Float32Array)
          : spatialMean(gridData, n, gh * gw, gc);
        pooled.set(p, start * this.pooledSize);
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
    }
    return { grid, pooled, count };
  }

  dispose(): void {
    void this.session?.release();
    this.session = undefined;
  }
}
