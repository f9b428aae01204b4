import { OnnxGraphBuilder } from "../core/onnx-builder.js";
import { tf } from "../tfjs/backend.js";

/**
 * Converts the part of a Keras functional model (tfjs layers-model artifacts) that feeds the requested
 * layers into an ONNX model in memory, as tfjs-to-onnx.ts does for tfjs graphs. Written here for the
 * same reason: no JS library converts tfjs models to ONNX. It covers exactly the layers of the Keras
 * InceptionV3 that nsfwjs ships (Conv2D, BatchNormalization, Activation relu, Max/AveragePooling2D,
 * Concatenate) and names any other layer in its error.
 *
 * Layout as in tfjs-to-onnx.ts: the NHWC input is transposed to NCHW once and each output back to NHWC.
 * Keras "same" padding puts any odd pixel at the end, which is ONNX's SAME_UPPER; Keras average pooling
 * leaves the padding out of the mean, which is ONNX's default (count_include_pad 0).
 */
export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  /** [[[inboundLayer, nodeIndex, tensorIndex, kwargs], ...]]: one list per call of the layer. */
  inbound_nodes: [string, number, number, unknown][][];
}

interface KerasModelConfig {
  class_name: string;
  config: { layers: KerasLayer[] };
}

/** Keras' model.json wraps the model config in `model_config`; tfjs' own save() gives it bare. */
type KerasTopology = { model_config?: KerasModelConfig } & Partial<KerasModelConfig>;

function modelConfig(artifacts: tf.io.ModelArtifacts): KerasModelConfig | undefined {
  const topology = artifacts.modelTopology as KerasTopology | undefined;
  const config = topology?.model_config ?? topology;
  return Array.isArray(config?.config?.layers) ? (config as KerasModelConfig) : undefined;
}

/** True for tfjs layers-model artifacts converted from Keras (false for tfjs graph models). */
export function isKerasModel(artifacts: tf.io.ModelArtifacts): boolean {
  return modelConfig(artifacts) !== undefined;
}

/** The layers of a Keras functional model's artifacts; throws if they are not one. */
export function kerasLayers(artifacts: tf.io.ModelArtifacts): KerasLayer[] {
  const layers = modelConfig(artifacts)?.config.layers;
  if (!layers) throw new Error("keras-to-onnx: the artifacts are not a Keras functional model");
  return layers;
}

const SUPPORTED = [
  "InputLayer",
  "Conv2D",
  "BatchNormalization",
  "Activation",
  "MaxPooling2D",
  "AveragePooling2D",
  "Concatenate",
];

function inboundNames(layer: KerasLayer): string[] {
  if (layer.inbound_nodes.length > 1) {
    throw new Error(
      `keras-to-onnx: layer "${layer.name}" is called more than once (shared layers are not supported)`,
    );
  }
  return (layer.inbound_nodes[0] ?? []).map(([name, , tensorIndex]) => {
    if (tensorIndex !== 0) throw new Error(`keras-to-onnx: layer "${layer.name}" reads a multi-output layer`);
    return name;
  });
}

/** The requested layers and their ancestors, each after its inputs (Keras lists layers in that order). */
function neededLayers(layers: KerasLayer[], outputs: readonly string[]): KerasLayer[] {
  const byName = new Map(layers.map((layer) => [layer.name, layer]));
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    const layer = byName.get(name);
    if (!layer) throw new Error(`keras-to-onnx: the model has no layer "${name}"`);
    needed.add(name);
    stack.push(...inboundNames(layer));
  }
  return layers.filter((layer) => needed.has(layer.name));
}

const pair = (value: unknown) => value as [number, number];

/**
 * Keras layers-model artifacts -> ONNX ModelProto bytes whose input is the model's InputLayer (NHWC
 * float32, batch and size symbolic) and whose outputs are the named layers' outputs, NHWC. Needs an
 * initialised tfjs backend (it decodes the quantized weights through tfjs).
 */
export function kerasToOnnx(
  artifacts: tf.io.ModelArtifacts,
  outputs: readonly string[],
  opset = 13,
): Uint8Array {
  const order = neededLayers(kerasLayers(artifacts), outputs);
  const unsupported = [...new Set(order.map((l) => l.class_name).filter((c) => !SUPPORTED.includes(c)))];
  if (unsupported.length > 0) {
    throw new Error(
      `keras-to-onnx: unsupported layer ${unsupported.join(", ")}; supported: ${SUPPORTED.join(", ")}`,
    );
  }
  if (!artifacts.weightData) throw new Error("keras-to-onnx: the model artifacts hold no weights");
  const tensors = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs ?? []);
  const weight = (name: string): tf.Tensor | undefined => tensors[name];
  const b = new OnnxGraphBuilder();
  b.reserve(outputs);
  const values = new Map<string, string>(); // layer -> NCHW value name
  const inputs: { name: string; dims: (number | string)[] }[] = [];
  try {
    for (const layer of order) {
      const c = layer.config;
      const ins = inboundNames(layer).map((name) => values.get(name)!);
      const pad = c.padding === "same" ? "SAME_UPPER" : "VALID";
      let out: string;
      switch (layer.class_name) {
        case "InputLayer":
          inputs.push({ name: layer.name, dims: ["N", "H", "W", 3] });
          b.unique(layer.name);
          out = b.node("Transpose", [layer.name], { perm: [0, 3, 1, 2] }, `${layer.name}/nchw`);
          break;
        case "Conv2D": {
          if (c.activation !== "linear")
            throw new Error(`keras-to-onnx: conv "${layer.name}" has a fused activation`);
          const kernel = weight(`${layer.name}/kernel`)!; // [kh, kw, cin, cout]
          const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
          const oihw = tf.tidy(() => tf.transpose(kernel, [3, 2, 0, 1]).dataSync() as Float32Array);
          const convInputs = [ins[0]!, b.floats(`${layer.name}/W`, oihw, [cout, cin, kh, kw])];
          if (c.use_bias) {
            const bias = weight(`${layer.name}/bias`)!.dataSync() as Float32Array;
            convInputs.push(b.floats(`${layer.name}/B`, Float32Array.from(bias), [cout]));
          }
          out = b.node("Conv", convInputs, {
            kernel_shape: [kh, kw],
            strides: pair(c.strides),
            dilations: pair(c.dilation_rate),
            auto_pad: pad,
          });
          break;
        }
        case "BatchNormalization": {
          const mean = Float32Array.from(weight(`${layer.name}/moving_mean`)!.dataSync());
          const n = mean.length;
          const variance = Float32Array.from(weight(`${layer.name}/moving_variance`)!.dataSync());
          const gamma = weight(`${layer.name}/gamma`);
          const beta = weight(`${layer.name}/beta`);
          out = b.node(
            "BatchNormalization",
            [
              ins[0]!,
              b.floats(
                `${layer.name}/scale`,
                gamma ? Float32Array.from(gamma.dataSync()) : new Float32Array(n).fill(1),
                [n],
              ),
              b.floats(
                `${layer.name}/bias`,
                beta ? Float32Array.from(beta.dataSync()) : new Float32Array(n),
                [n],
              ),
              b.floats(`${layer.name}/mean`, mean, [n]),
              b.floats(`${layer.name}/var`, variance, [n]),
            ],
            { epsilon: { float: c.epsilon as number } },
          );
          break;
        }
        case "Activation":
          if (c.activation !== "relu")
            throw new Error(`keras-to-onnx: activation "${String(c.activation)}" is not supported`);
          out = b.node("Relu", ins);
          break;
        case "MaxPooling2D":
        case "AveragePooling2D":
          out = b.node(layer.class_name === "MaxPooling2D" ? "MaxPool" : "AveragePool", ins, {
            kernel_shape: pair(c.pool_size),
            strides: pair(c.strides),
            auto_pad: pad,
          });
          break;
        default: {
          // Concatenate: channels last in Keras (axis 3 or -1) is axis 1 in NCHW
          const axis = c.axis as number;
          if (axis !== 3 && axis !== -1)
            throw new Error(`keras-to-onnx: "${layer.name}" concatenates on axis ${axis}`);
          out = b.node("Concat", ins, { axis: 1 });
        }
      }
      values.set(layer.name, out);
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  for (const name of outputs) b.node("Transpose", [values.get(name)!], { perm: [0, 2, 3, 1] }, name, true);
  return b.build({ name: "keras-model", opset, inputs, outputs: [...outputs] });
}
