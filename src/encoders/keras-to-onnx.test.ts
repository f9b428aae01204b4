import { beforeAll, describe, expect, it } from "vitest";
import { loadOnnxRuntime } from "../core/onnxruntime.js";
import { initBackend, tf } from "../tfjs/backend.js";
import { isKerasModel, kerasLayers, kerasToOnnx } from "./keras-to-onnx.js";

const SIDE = 12;

/**
 * A tiny Inception-like Keras model: valid and same convs with odd sizes and strides (same padding
 * with stride 2 on an even side pads one pixel more at the end), batch norm with and without scale, a branch
 * through a same-padded average pool (its border means leave the padding out), a max pool and a
 * channel concatenation; then a head the converter must not need to read.
 */
function tinyInception(): tf.LayersModel {
  const input = tf.input({ shape: [SIDE, SIDE, 3], name: "input_1" });
  const convBn = (
    x: tf.SymbolicTensor,
    filters: number,
    k: number[],
    strides: number,
    padding: "same" | "valid",
    scale: boolean,
  ) => {
    const c = tf.layers
      .conv2d({ filters, kernelSize: k, strides, padding, useBias: false })
      .apply(x) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ scale, epsilon: 0.001 }).apply(c) as tf.SymbolicTensor;
    return tf.layers.activation({ activation: "relu" }).apply(bn) as tf.SymbolicTensor;
  };
  const stem = convBn(input, 4, [3, 3], 2, "same", false); // [6, 6, 4]
  const a = convBn(stem, 3, [1, 1], 1, "same", true);
  const b = convBn(convBn(stem, 2, [1, 3], 1, "same", false), 3, [3, 1], 1, "same", false);
  const pooled = tf.layers
    .averagePooling2d({ poolSize: 3, strides: 1, padding: "same" })
    .apply(stem) as tf.SymbolicTensor;
  const c = convBn(pooled, 2, [1, 1], 1, "valid", false);
  const maxed = tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: "valid" })
    .apply(stem) as tf.SymbolicTensor;
  const d = tf.layers.upSampling2d({ size: [2, 2] }).apply(maxed) as tf.SymbolicTensor; // [4, 4, 4]: head only
  const mixed = tf.layers.concatenate({ axis: -1, name: "mixed" }).apply([a, b, c]) as tf.SymbolicTensor;
  const head = tf.layers.globalAveragePooling2d({}).apply(d) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [mixed, head] });
}

async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  // Perturb the batch-norm statistics away from 0/1 so they matter.
  for (const weight of model.weights) {
    if (/moving_(mean|variance)|gamma|beta/.test(weight.name)) {
      const v = weight.read();
      weight.write(tf.tidy(() => tf.randomUniform(v.shape, 0.5, 1.5)));
    }
  }
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  return saved!;
}

describe("kerasToOnnx", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("gives the Keras model's output at a requested layer, NHWC, for any batch", async () => {
    const model = tinyInception();
    const artifacts = await artifactsOf(model);
    expect(isKerasModel(artifacts)).toBe(true);
    const bytes = kerasToOnnx(artifacts, ["mixed"]);
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(bytes);
    const n = 2;
    const x = tf.randomUniform([n, SIDE, SIDE, 3], 0, 1, "float32", 3);
    const expected = (model.predict(x) as tf.Tensor[])[0]!;
    const out = await session.run({
      input_1: new ort.Tensor("float32", x.dataSync() as Float32Array, x.shape),
    });
    const got = out.mixed!;
    expect(got.dims).toEqual(expected.shape);
    const want = expected.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((got.data as Float32Array)[i]! - want[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    await session.release();
  });

  it("names an unsupported layer and a missing one", async () => {
    const artifacts = await artifactsOf(tinyInception());
    const layers = kerasLayers(artifacts);
    const upsampling = layers.find((l) => l.class_name === "UpSampling2D")!.name;
    expect(() => kerasToOnnx(artifacts, [upsampling])).toThrow(/unsupported layer UpSampling2D/);
    expect(() => kerasToOnnx(artifacts, ["mixed11"])).toThrow(/no layer "mixed11"/);
  });
});
