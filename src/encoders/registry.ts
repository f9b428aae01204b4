import { builtinEncoders } from "./builtin.js";
import { ColourEncoder, parseColourEncoderName } from "./colour-encoder.js";
import { ConcatEncoder } from "./concat-encoder.js";
import { DEFAULT_ENCODER_RUNTIME, ENCODER_RUNTIMES, type EncoderRuntime, encoderNames } from "./names.js";
import { OnnxEncoder } from "./onnx-encoder.js";
import { OnnxGraphEncoder } from "./onnx-graph-encoder.js";
import { type TfjsEncoderSpec, TfjsGraphEncoder } from "./tfjs-encoder.js";
import type { Encoder } from "./types.js";

export { DEFAULT_ENCODER_RUNTIME, ENCODER_RUNTIMES, type EncoderRuntime, encoderNames };

export interface CreateEncoderOptions {
  /** Runtime of the built-in encoders (default onnx); `onnx:` folders always run on onnxruntime. */
  runtime?: EncoderRuntime;
  /** onnxruntime intra-op threads (0 = all cores); 1 inside extraction workers. */
  onnxThreads?: number;
}

function describeValidNames(): string {
  return `valid encoders: ${encoderNames().join(", ")}, names joined with "+" (e.g. mobilenet_v2_mid+centernet_224), or onnx:<folder>`;
}

/** Distinct built-in parts grouped by graph and input size; only groups of two or more. */
function graphGroups(parts: readonly string[]): TfjsEncoderSpec[][] {
  const groups = new Map<string, TfjsEncoderSpec[]>();
  const graphIds = new Map<TfjsEncoderSpec["artifacts"], number>();
  for (const name of new Set(parts)) {
    const spec = builtinEncoders[name];
    if (!spec) continue;
    if (!graphIds.has(spec.artifacts)) graphIds.set(spec.artifacts, graphIds.size);
    const key = `${graphIds.get(spec.artifacts)}@${spec.inputSize}`;
    groups.set(key, [...(groups.get(key) ?? []), spec]);
  }
  return [...groups.values()].filter((group) => group.length > 1);
}

async function createOne(name: string, options: CreateEncoderOptions): Promise<Encoder> {
  if (name.startsWith("onnx:")) {
    const folder = name.slice("onnx:".length);
    if (!folder) throw new Error(`encoder "${name}" names no folder: use onnx:<folder with encoder.json>`);
    return OnnxEncoder.create(folder, { threads: options.onnxThreads });
  }
  const colourSize = parseColourEncoderName(name);
  if (colourSize !== undefined) return new ColourEncoder(colourSize);
  const spec = builtinEncoders[name];
  if (!spec) throw new Error(`unknown encoder "${name}"; ${describeValidNames()}`);
  const runtime = options.runtime ?? DEFAULT_ENCODER_RUNTIME;
  if (runtime === "tfjs") return TfjsGraphEncoder.create(spec);
  if (runtime === "onnx") return OnnxGraphEncoder.create(spec, { threads: options.onnxThreads });
  throw new Error(`unknown encoder runtime "${runtime}"; valid runtimes: ${ENCODER_RUNTIMES.join(", ")}`);
}

/**
 * The one front door to encoders: `mobilenet_v2_mid`, `centernet_224`, `a+b` (grids concatenated
 * along channels, pooled vectors end to end) or `onnx:<folder>`. Weights come from node_modules or
 * the named folder, never from the network. Built-in encoders run on onnxruntime unless
 * `runtime: "tfjs"` is given; both give the same features within float rounding.
 */
export async function createEncoder(name: string, options: CreateEncoderOptions = {}): Promise<Encoder> {
  const trimmed = name.trim();
  if (!trimmed) throw new Error(`no encoder named; ${describeValidNames()}`);
  // onnx folders may contain "+", so only split names that do not start with onnx:
  const parts = trimmed.startsWith("onnx:") ? [trimmed] : trimmed.split("+");
  if (parts.length === 1) return createOne(trimmed, options);
  // a name given twice (ensemble members sharing an encoder) is loaded and run once, and on onnxruntime
  // the cuts of one built-in graph (e.g. centernet_448_grid14 + centernet_448_expand_grid14) share a
  // session that runs the graph once for all of them
  const byName = new Map<string, Encoder>();
  try {
    if ((options.runtime ?? DEFAULT_ENCODER_RUNTIME) === "onnx") {
      for (const group of graphGroups(parts)) {
        const encoders = await OnnxGraphEncoder.createGroup(group, { threads: options.onnxThreads });
        group.forEach((spec, i) => {
          byName.set(spec.name, encoders[i] as Encoder);
        });
      }
    }
    for (const part of parts) if (!byName.has(part)) byName.set(part, await createOne(part, options));
    return new ConcatEncoder(parts.map((part) => byName.get(part) as Encoder));
  } catch (err) {
    for (const e of byName.values()) e.dispose();
    throw err;
  }
}
