import { tf } from "../tfjs/backend.js";
import { initTfjs } from "../tfjs/init.js";
import { isKerasModel } from "./keras-to-onnx.js";
import type { EncodedBatch, Encoder, Normalization } from "./types.js";

/** How to cut grid and pooled features out of a frozen tfjs graph (run by tfjs, or converted to ONNX). */
export interface TfjsEncoderSpec {
  name: string;
  inputSize: number;
  normalization: Normalization;
  gridShape: readonly [number, number, number];
  pooledSize: number;
  /** Graph node whose output is the [N, h, w, c] grid. */
  gridNode: string;
  /**
   * Average the graph's grid over k x k blocks (default 1 = as is): gridShape is the shape after
   * pooling, so the graph itself gives [h*k, w*k, c].
   */
  gridPool?: number;
  /** Graph node giving the [N, c] pooled vector; absent = spatial mean of the grid. */
  pooledNode?: string;
  /** Largest batch run through the graph at once (memory bound; the wasm backend gains little above ~8). */
  maxBatch: number;
  /** Reads the graph's model.json and weights from node_modules. */
  artifacts: () => Promise<tf.io.ModelArtifacts>;
  /**
   * What identifies those files (package@version/file): the key of the cached ONNX conversion, so a
   * later start skips tfjs and the conversion. Absent: converted at every load.
   */
  artifactsId?: () => string;
}

/** The Encoder fields a built-in graph's runtimes (tfjs, onnxruntime) take from its spec. */
export abstract class GraphSpecEncoder {
  readonly name: string;
  readonly inputSize: number;
  readonly normalization: Normalization;
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;

  protected constructor(protected readonly spec: TfjsEncoderSpec) {
    this.name = spec.name;
    this.inputSize = spec.inputSize;
    this.normalization = spec.normalization;
    this.gridShape = spec.gridShape;
    this.pooledSize = spec.pooledSize;
  }

  /** Floats per input image; throws unless `images` holds exactly `count` images. */
  protected floatsPerImage(images: Float32Array, count: number): number {
    const s = this.inputSize;
    const per = s * s * 3;
    if (images.length !== count * per) {
      throw new Error(`encoder ${this.name}: expected ${count}x${s}x${s}x3 floats, got ${images.length}`);
    }
    return per;
  }
}

/** What TfjsGraphEncoder runs: a tfjs GraphModel, or a Keras model cut at the requested layers. */
interface GraphRunner {
  execute(input: tf.Tensor, outputs: string[]): tf.Tensor | tf.Tensor[];
  dispose(): void;
}

/** A Keras model truncated at `outputs` (layer names), behind the GraphModel calling convention. */
async function kerasRunner(artifacts: tf.io.ModelArtifacts, outputs: string[]): Promise<GraphRunner> {
  const full = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const cut = tf.model({
    inputs: full.inputs,
    outputs: outputs.map((name) => full.getLayer(name).output as tf.SymbolicTensor),
  });
  return {
    execute: (input) => cut.predict(input),
    dispose: () => full.dispose(),
  };
}

/** A frozen tfjs graph turned into an Encoder: runs the graph up to the grid (and pooled) node. */
export class TfjsGraphEncoder extends GraphSpecEncoder implements Encoder {
  private constructor(
    spec: TfjsEncoderSpec,
    private model: GraphRunner | undefined,
  ) {
    super(spec);
  }

  static async create(spec: TfjsEncoderSpec): Promise<TfjsGraphEncoder> {
    await initTfjs();
    const artifacts = await spec.artifacts();
    const outputs = spec.pooledNode ? [spec.gridNode, spec.pooledNode] : [spec.gridNode];
    const runner = isKerasModel(artifacts)
      ? await kerasRunner(artifacts, outputs)
      : await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    return new TfjsGraphEncoder(spec, runner);
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const model = this.model;
    if (!model) throw new Error(`encoder ${this.name} was disposed`);
    const s = this.inputSize;
    const per = this.floatsPerImage(images, count);
    const [gh, gw, gc] = this.gridShape;
    const grid = new Float32Array(count * gh * gw * gc);
    const pooled = new Float32Array(count * this.pooledSize);
    for (let start = 0; start < count; start += this.spec.maxBatch) {
      const n = Math.min(this.spec.maxBatch, count - start);
      const [gridT, pooledT] = tf.tidy(() => {
        // [n, s, s, 3] NHWC
        const input = tf.tensor4d(images.subarray(start * per, (start + n) * per), [n, s, s, 3]);
        const outputs = this.spec.pooledNode
          ? [this.spec.gridNode, this.spec.pooledNode]
          : [this.spec.gridNode];
        const result = model.execute(input, outputs);
        // execute() unwraps a single requested output into a bare Tensor
        const out = Array.isArray(result) ? result : [result];
        const raw = out[0] as tf.Tensor4D;
        const k = this.spec.gridPool ?? 1;
        const g = k > 1 ? tf.avgPool(raw, k, k, "valid") : raw;
        // [n, c]: mean over the h and w axes when the graph has no pooled node
        const p = out[1] ?? tf.mean(g, [1, 2]);
        return [g, p.reshape([n, this.pooledSize])]; // [n, pooledSize]
      });
      try {
        if (gridT.shape.slice(1).join("x") !== this.gridShape.join("x")) {
          throw new Error(
            `encoder ${this.name}: graph gave a ${gridT.shape.join("x")} grid, expected ${n}x${this.gridShape.join("x")}`,
          );
        }
        grid.set(await gridT.data(), start * gh * gw * gc);
        pooled.set(await pooledT.data(), start * this.pooledSize);
      } finally {
        gridT.dispose();
        pooledT.dispose();
      }
    }
    return { grid, pooled, count };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}
