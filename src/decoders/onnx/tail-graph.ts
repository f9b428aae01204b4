import type { FeatureHeadConfig } from "../types.js";
import { convKernel, type Graph, type WeightValues } from "./graph.js";

/*
 * CenterNetTail (src/decoders/centernet-tail.ts) as a start-graph fragment, in NCHW so onnxruntime runs
 * its 1x1 and depthwise convolutions as Conv (with the hard-swish fused).
 */

const GRID = 14;
const EXPANDED = 720;
const KERNEL = 5;

/** tfjs depthwise filter [k, k, channels, 1] as an ONNX grouped Conv weight [channels, 1, k, k]. */
function depthwiseKernel(w: WeightValues): WeightValues {
  const channels = w.dims[2] as number;
  const data = new Float32Array(w.data.length);
  for (let i = 0; i < KERNEL * KERNEL; i++)
    for (let c = 0; c < channels; c++) data[c * KERNEL * KERNEL + i] = w.data[i * channels + c]!;
  return { data, dims: [channels, 1, KERNEL, KERNEL] };
}

function conv1x1(g: Graph, x: string, name: string): string {
  return g.op("Conv", [x, g.w(`${name}/kernel`, convKernel), g.w(`${name}/bias`)], { kernel_shape: [1, 1] });
}

/** hard swish x * relu6(x + 3) / 6 (ONNX HardSwish is the same function). */
const hardSwish = (g: Graph, x: string) => g.op("HardSwish", [x]);

function expandHalf(g: Graph, x: string, name: string): string {
  const expanded = hardSwish(g, conv1x1(g, x, `${name}/expand`));
  const depthwise = g.op(
    "Conv",
    [expanded, g.w(`${name}/depthwise/kernel`, depthwiseKernel), g.w(`${name}/depthwise/bias`)],
    { group: EXPANDED, kernel_shape: [KERNEL, KERNEL], pads: [2, 2, 2, 2] },
  );
  return hardSwish(g, depthwise);
}

function block(g: Graph, x: string, name: string): string {
  const spatial = expandHalf(g, x, name);
  const squeezed = g.op("Relu", [conv1x1(g, g.op("GlobalAveragePool", [spatial]), `${name}/squeeze`)]);
  // hard sigmoid relu6(x + 3) / 6, as the graph computes the excitation
  const gate = g.op("HardSigmoid", [conv1x1(g, squeezed, `${name}/excite`)], {
    alpha: { float: 1 / 6 },
    beta: { float: 0.5 },
  });
  return conv1x1(g, g.mul(spatial, gate), `${name}/project`);
}

/** grid [N, 196, 120] -> grid [N, (14 / gridPool)^2, channels] and its mean over regions [N, channels]. */
export function centerNetTail(
  g: Graph,
  head: FeatureHeadConfig,
  grid: string,
): { grid: string; pooled: string } {
  const x = g.transpose(g.reshape(grid, [-1, GRID, GRID, 120]), [0, 3, 1, 2]); // [N, 120, 14, 14]
  const after13 = g.add(x, block(g, x, "centernet_tail/block13"));
  let y: string; // [N, channels, 14, 14]
  if ((head.output ?? "neck") === "neck") {
    const after14 = g.add(after13, block(g, after13, "centernet_tail/block14"));
    y = hardSwish(g, conv1x1(g, after14, "centernet_tail/neck"));
  } else {
    y = expandHalf(g, after13, "centernet_tail/block14");
  }
  const k = head.gridPool;
  if (k > 1) y = g.op("AveragePool", [y], { kernel_shape: [k, k], strides: [k, k] });
  const side = GRID / k;
  const channels = (head.output ?? "neck") === "neck" ? 480 : EXPANDED;
  const out = g.reshape(g.transpose(y, [0, 2, 3, 1]), [-1, side * side, channels]);
  return { grid: out, pooled: g.op("ReduceMean", [out], { axes: [1], keepdims: 0 }) };
}
