import path from "node:path";
import { BYTE_RANGE, UNIT_RANGE } from "../image/normalization.js";
import {
  freeInputShape,
  loadArtifactsFromFile,
  loadNsfwjsArtifacts,
  packageFileId,
  resolvePackageFile,
} from "./model-loader.js";
import type { TfjsEncoderSpec } from "./tfjs-encoder.js";

const NSFW_PREFIX =
  "StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict";

/**
 * nsfwjs 4.4.0 mobilenet_v2_mid: MobileNetV2 (width 1.4, 8-bit quantized) whose top layers were
 * fine-tuned for nsfw classes. nsfwjs feeds it pixel / 255 (see its core.js: `img.div(255)`), so
 * mean 0, std 1. Grid = last conv block (7x7x1792 at 224), pooled = the hub feature vector.
 */
export const mobilenetV2Mid: TfjsEncoderSpec = {
  name: "mobilenet_v2_mid",
  inputSize: 224,
  normalization: UNIT_RANGE,
  gridShape: [7, 7, 1792],
  pooledSize: 1792,
  gridNode: `${NSFW_PREFIX}/MobilenetV2/Conv_1/Relu6`,
  pooledNode: `${NSFW_PREFIX}/feature_vector/SpatialSqueeze`,
  maxBatch: 8,
  artifacts: () =>
    loadNsfwjsArtifacts(
      path.dirname(resolvePackageFile("nsfwjs", "dist/models/mobilenet_v2_mid/model.min.js")),
    ),
  artifactsId: () => packageFileId("nsfwjs", "dist/models/mobilenet_v2_mid"),
};

/**
 * @vladmandic/human 3.3.6 CenterNet (MobileNetV3 backbone, COCO detector). human feeds it the
 * resized image in raw 0..255 pixels (object/centernet.ts: resizeBilinear then execute, no scaling),
 * i.e. value = (pixel/255 - 0) / (1/255). At 224 its `extern1` neck gives a 7x7x480 grid; there is no
 * pooled head, so pooled = spatial mean. The JSON fixes the input at [1, 512, 512, 3]: it is freed to
 * [-1, -1, -1, 3] in memory so batches and 224 inputs pass the executor's shape check.
 */
export const centernet224: TfjsEncoderSpec = {
  name: "centernet_224",
  inputSize: 224,
  normalization: BYTE_RANGE,
  gridShape: [7, 7, 480],
  pooledSize: 480,
  gridNode: "tower_0/extern1/hard_swish/mul_1",
  maxBatch: 8,
  artifacts: () =>
    loadArtifactsFromFile(resolvePackageFile("@vladmandic/human", "models/centernet.json"), (json) =>
      freeInputShape(json, "tower_0/images"),
    ),
  artifactsId: () => packageFileId("@vladmandic/human", "models/centernet.json"),
};

/**
 * The same CenterNet run at 448, twice the photo size: the detector was trained at 512, so objects in
 * a 224 photo look smaller than anything it learned from; upsampled, they are back at its scale. The
 * 14x14 grid is averaged over 2x2 blocks to 7x7, so decoders see as many grid tokens as at 224.
 */
export const centernet448: TfjsEncoderSpec = {
  ...centernet224,
  name: "centernet_448",
  inputSize: 448,
  gridPool: 2,
  maxBatch: 4,
};

/**
 * nsfwjs 4.4.0 inception_v3: the Keras InceptionV3 (ImageNet weights, 8-bit quantized) with an nsfw
 * head. Its training config shows the layers up to mixed5 frozen and the rest fine-tuned with SGD at
 * lr 9e-7, so mixed10 is still close to the ImageNet features captioning work usually starts from.
 * nsfwjs feeds every model pixel / 255. Grid = mixed10 (8x8x2048 at the native 299), pooled = its
 * spatial mean, which is what the model's own 8x8 average pool gives.
 */
export const inceptionV3: TfjsEncoderSpec = {
  name: "inception_v3",
  inputSize: 299,
  normalization: UNIT_RANGE,
  gridShape: [8, 8, 2048],
  pooledSize: 2048,
  gridNode: "mixed10",
  maxBatch: 4,
  artifacts: () =>
    loadNsfwjsArtifacts(path.dirname(resolvePackageFile("nsfwjs", "dist/models/inception_v3/model.min.js"))),
  artifactsId: () => packageFileId("nsfwjs", "dist/models/inception_v3"),
};

/**
 * CenterNet at 448 cut one layer earlier: the last backbone block's expanded depthwise output (720
 * channels at stride 32) instead of the 480-channel neck that CenterNet computes from that block's
 * 160-channel projection. The wider layer keeps more of what the backbone saw: nearest-neighbour
 * consensus CIDEr-D 0.341 against 0.311 (docs/results/features.md).
 */
export const centernet448Expand: TfjsEncoderSpec = {
  ...centernet448,
  name: "centernet_448_expand",
  gridShape: [7, 7, 720],
  pooledSize: 720,
  gridNode: "tower_0/MobilenetV3/expanded_conv_14/depthwise/hard_swish/mul_1",
};

/**
 * CenterNet at 448 without the 2x2 averaging: the full 14x14 grid (196 regions), the resolution
 * Show, Attend and Tell attends over. Four times the decoder's memory tokens of `centernet_448`.
 */
export const centernet448Grid14: TfjsEncoderSpec = {
  ...centernet448,
  name: "centernet_448_grid14",
  gridShape: [14, 14, 480],
  gridPool: 1,
};

/** `centernet_448_expand` without the 2x2 averaging (14x14x720), for the same reason as the grid14 cut. */
export const centernet448ExpandGrid14: TfjsEncoderSpec = {
  ...centernet448Expand,
  name: "centernet_448_expand_grid14",
  gridShape: [14, 14, 720],
  gridPool: 1,
};

/**
 * The input of CenterNet's last two backbone blocks at 448 (block 12's 120-channel projection, 14x14).
 * Not a caption encoder on its own: decoders with `featureHead: "centernet-tail"` run blocks 13, 14
 * and the `extern1` neck on it as trainable layers, so training can fine-tune the end of the encoder
 * from a feature cache (docs/decoders.md).
 */
export const centernet448Block12Grid14: TfjsEncoderSpec = {
  ...centernet448Grid14,
  name: "centernet_448_block12_grid14",
  gridShape: [14, 14, 120],
  pooledSize: 120,
  gridNode: "tower_0/MobilenetV3/expanded_conv_12/project/BatchNorm/FusedBatchNorm",
};

/** Built-in encoders by registry name (tfjs graphs, run by tfjs or converted to ONNX at load). */
export const builtinEncoders: Readonly<Record<string, TfjsEncoderSpec>> = Object.freeze({
  [mobilenetV2Mid.name]: mobilenetV2Mid,
  [centernet224.name]: centernet224,
  [centernet448.name]: centernet448,
  [centernet448Expand.name]: centernet448Expand,
  [centernet448Grid14.name]: centernet448Grid14,
  [centernet448ExpandGrid14.name]: centernet448ExpandGrid14,
  [centernet448Block12Grid14.name]: centernet448Block12Grid14,
  [inceptionV3.name]: inceptionV3,
});
