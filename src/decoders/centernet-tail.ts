import { readFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type ModelJson, resolvePackageFile } from "../encoders/model-loader.js";
import { trainableDepthwiseConv2d } from "../tfjs/depthwise-conv.js";
import { applyDense } from "./layers.js";
import { type Dense, ParamStore } from "./params.js";
import type { DecoderInputs, DecoderShape } from "./types.js";

/** The CenterNet graph the tail's starting weights come from (the one `centernet_448` runs). */
const GRAPH_FILE = "models/centernet.json";
const GRID = 14;
const INPUT_CHANNELS = 120;
const EXPANDED_CHANNELS = 720;
const SQUEEZE_CHANNELS = 184;
const KERNEL = 5;
const NECK_CHANNELS = 480;
const BLOCKS = [13, 14] as const;

/** The expand and depthwise half of a block: all the "expand" output needs of block 14. */
interface ExpandWeights {
  expand: Dense;
  depthwise: tf.Variable<tf.Rank.R4>;
  depthwiseBias: tf.Variable<tf.Rank.R1>;
}

interface BlockWeights extends ExpandWeights {
  squeeze: Dense;
  excite: Dense;
  project: Dense;
}

/** Graph weight names (batch norms are folded into the convolutions' offsets) by tail variable name. */
function graphNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const block of BLOCKS) {
    const graph = `MobilenetV3/expanded_conv_${block}`;
    const ours = `centernet_tail/block${block}`;
    for (const conv of ["expand", "project"]) {
      names.set(`${ours}/${conv}/kernel`, `tower_0/${graph}/${conv}/Conv2D_weights`);
      names.set(`${ours}/${conv}/bias`, `tower_0/${graph}/${conv}/Conv2D_bn_offset`);
    }
    names.set(`${ours}/depthwise/kernel`, `tower_0/${graph}/depthwise/depthwise_weights`);
    names.set(`${ours}/depthwise/bias`, `tower_0/${graph}/depthwise/depthwise_bn_offset`);
    names.set(`${ours}/squeeze/kernel`, `${graph}/squeeze_excite/Conv/weights`);
    names.set(`${ours}/squeeze/bias`, `${graph}/squeeze_excite/Conv/biases`);
    names.set(`${ours}/excite/kernel`, `${graph}/squeeze_excite/Conv_1/weights`);
    names.set(`${ours}/excite/bias`, `${graph}/squeeze_excite/Conv_1/biases`);
  }
  names.set("centernet_tail/neck/kernel", "tower_0/extern1/Conv2D_weights");
  names.set("centernet_tail/neck/bias", "tower_0/extern1/Conv2D_bn_offset");
  return names;
}

/**
 * Reads the tail's weights from the CenterNet graph in node_modules. Synchronous, so decoders can still
 * be built by a plain constructor (and identically in every worker thread).
 */
function readGraphWeights(): Map<string, tf.Tensor> {
  const jsonPath = resolvePackageFile("@vladmandic/human", GRAPH_FILE);
  const json = JSON.parse(readFileSync(jsonPath, "utf8")) as ModelJson;
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  const shards = json.weightsManifest.flatMap((group) =>
    group.paths.map((shard) => readFileSync(path.join(path.dirname(jsonPath), shard))),
  );
  const bytes = Buffer.concat(shards);
  const all = tf.io.decodeWeights(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    specs,
  );
  const out = new Map<string, tf.Tensor>();
  for (const [ours, theirs] of graphNames()) {
    const tensor = all[theirs];
    if (!tensor) throw new Error(`CenterNet graph ${jsonPath} has no weight ${theirs}`);
    out.set(ours, tensor);
    delete all[theirs];
  }
  for (const rest of Object.values(all)) rest.dispose();
  return out;
}

/** x * relu6(x + 3) / 6, MobileNetV3's activation. */
function hardSwish(x: tf.Tensor): tf.Tensor {
  return x.mul(tf.relu6(x.add(3))).div(6);
}

/**
 * CenterNet's last two backbone blocks (MobileNetV3 inverted residuals: 1x1 expand to 720 channels,
 * 5x5 depthwise, squeeze-and-excite, 1x1 project back to 120, residual) and its `extern1` neck (1x1 to
 * 480, hard-swish), as trainable layers starting from the graph's weights. On
 * `centernet_448_block12_grid14` features it reproduces `centernet_448_grid14` (a test checks it against
 * the graph), and training moves it with the caption loss. With output "expand" it ends at block 14's
 * expanded depthwise output, the `centernet_448_expand` cut, and has no weights past it.
 */
export class CenterNetTail {
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** Channels of the grid handed on: 480 (neck) or 720 (expand). */
  readonly channels: number;
  private readonly store = new ParamStore(0);
  private readonly block13: BlockWeights;
  private readonly block14: BlockWeights | ExpandWeights;
  private readonly neck?: Dense;

  constructor(
    private readonly gridPool: 1 | 2,
    output: "neck" | "expand" = "neck",
  ) {
    const weights = readGraphWeights();
    const take = <R extends tf.Rank>(name: string, shape: number[]): tf.Variable<R> => {
      const tensor = weights.get(name) as tf.Tensor;
      weights.delete(name);
      const variable = this.store.add(name, tensor.reshape(shape)) as tf.Variable<R>;
      tensor.dispose();
      return variable;
    };
    const conv1x1 = (name: string, fanIn: number, fanOut: number): Dense => {
      const kernel = take<tf.Rank.R2>(`${name}/kernel`, [fanIn, fanOut]);
      return { kernel, bias: take<tf.Rank.R1>(`${name}/bias`, [fanOut]) };
    };
    const expandHalf = (name: string): ExpandWeights => ({
      expand: conv1x1(`${name}/expand`, INPUT_CHANNELS, EXPANDED_CHANNELS),
      depthwise: take<tf.Rank.R4>(`${name}/depthwise/kernel`, [KERNEL, KERNEL, EXPANDED_CHANNELS, 1]),
      depthwiseBias: take<tf.Rank.R1>(`${name}/depthwise/bias`, [EXPANDED_CHANNELS]),
    });
    const fullBlock = (name: string): BlockWeights => ({
      ...expandHalf(name),
      squeeze: conv1x1(`${name}/squeeze`, EXPANDED_CHANNELS, SQUEEZE_CHANNELS),
      excite: conv1x1(`${name}/excite`, SQUEEZE_CHANNELS, EXPANDED_CHANNELS),
      project: conv1x1(`${name}/project`, EXPANDED_CHANNELS, INPUT_CHANNELS),
    });
    this.block13 = fullBlock("centernet_tail/block13");
    if (output === "expand") {
      this.block14 = expandHalf("centernet_tail/block14");
      this.channels = EXPANDED_CHANNELS;
    } else {
      this.block14 = fullBlock("centernet_tail/block14");
      this.neck = conv1x1("centernet_tail/neck", INPUT_CHANNELS, NECK_CHANNELS);
      this.channels = NECK_CHANNELS;
    }
    for (const unused of weights.values()) unused.dispose();
    this.variables = this.store.variables;
  }

  /** The decoder shape the tail hands on for a given cache shape (which must be 14x14x120). */
  outputShape(outer: DecoderShape): DecoderShape {
    if (outer.regions !== GRID * GRID || outer.featureDim !== INPUT_CHANNELS) {
      throw new Error(
        `featureHead centernet-tail needs 14x14x120 features (encoder centernet_448_block12_grid14), got ${outer.regions} regions x ${outer.featureDim} channels`,
      );
    }
    const side = GRID / this.gridPool;
    return { ...outer, regions: side * side, featureDim: this.channels, pooledDim: this.channels };
  }

  /**
   * grid [batch, 196, 120] -> grid [batch, (14 / gridPool)^2, channels] and its mean as the pooled
   * vector.
   */
  apply(grid: tf.Tensor3D): DecoderInputs {
    return tf.tidy(() => {
      const [batch] = grid.shape;
      const x = grid.reshape([batch, GRID, GRID, INPUT_CHANNELS]) as tf.Tensor4D;
      const after13 = x.add(this.block(x, this.block13)) as tf.Tensor4D;
      let y: tf.Tensor; // [batch, 14, 14, channels]
      if (this.neck && "project" in this.block14) {
        const after14 = after13.add(this.block(after13, this.block14));
        y = hardSwish(applyDense(after14, this.neck));
      } else {
        y = this.expandHalf(after13, this.block14);
      }
      const side = GRID / this.gridPool;
      if (this.gridPool > 1) {
        // A reshape-mean rather than tf.avgPool: wasm has no AvgPoolGrad kernel.
        y = y.reshape([batch, side, this.gridPool, side, this.gridPool, this.channels]).mean([2, 4]);
      }
      const out = y.reshape([batch, side * side, this.channels]) as tf.Tensor3D;
      return { grid: out, pooled: out.mean(1) as tf.Tensor2D };
    });
  }

  private expandHalf(x: tf.Tensor4D, w: ExpandWeights): tf.Tensor4D {
    const expanded = hardSwish(applyDense(x, w.expand)) as tf.Tensor4D;
    return hardSwish(trainableDepthwiseConv2d(expanded, w.depthwise).add(w.depthwiseBias)) as tf.Tensor4D;
  }

  private block(x: tf.Tensor4D, w: BlockWeights): tf.Tensor4D {
    const [batch] = x.shape;
    const spatial = this.expandHalf(x, w);
    const squeezed = tf.relu(applyDense(spatial.mean([1, 2]), w.squeeze));
    // hard sigmoid relu6(x + 3) / 6, as the graph computes the excitation
    const gate = tf.relu6(applyDense(squeezed, w.excite).add(3)).div(6);
    const excited = spatial.mul(gate.reshape([batch, 1, 1, EXPANDED_CHANNELS]));
    return applyDense(excited, w.project) as tf.Tensor4D;
  }

  dispose(): void {
    this.store.dispose();
  }
}
