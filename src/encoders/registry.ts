import { builtinEncoders } from "./builtin.js";
import { ConcatEncoder } from "./concat-encoder.js";
import { OnnxEncoder } from "./onnx-encoder.js";
import { TfjsGraphEncoder } from "./tfjs-encoder.js";
import type { Encoder } from "./types.js";

export interface CreateEncoderOptions {
  /** onnxruntime intra-op threads for `onnx:` encoders (0 = all cores); 1 inside extraction workers. */
  onnxThreads?: number;
}

/** Registry names accepted by createEncoder (besides `a+b` joins and `onnx:<folder>`). */
export function encoderNames(): string[] {
  return Object.keys(builtinEncoders);
}

function describeValidNames(): string {
  return `valid encoders: ${encoderNames().join(", ")}, names joined with "+" (e.g. mobilenet_v2_mid+centernet_224), or onnx:<folder>`;
}

async function createOne(name: string, options: CreateEncoderOptions): Promise<Encoder> {
  if (name.startsWith("onnx:")) {
    const folder = name.slice("onnx:".length);
    if (!folder) throw new Error(`encoder "${name}" names no folder: use onnx:<folder with encoder.json>`);
    return OnnxEncoder.create(folder, { threads: options.onnxThreads });
  }
  const spec = builtinEncoders[name];
  if (!spec) throw new Error(`unknown encoder "${name}"; ${describeValidNames()}`);
  return TfjsGraphEncoder.create(spec);
}

/**
 * The one front door to encoders: `mobilenet_v2_mid`, `centernet_224`, `a+b` (grids concatenated
 * along channels, pooled vectors end to end) or `onnx:<folder>`. Weights come from node_modules or
 * the named folder, never from the network.
 */
export async function createEncoder(name: string, options: CreateEncoderOptions = {}): Promise<Encoder> {
  const trimmed = name.trim();
  if (!trimmed) throw new Error(`no encoder named; ${describeValidNames()}`);
  // onnx folders may contain "+", so only split names that do not start with onnx:
  const parts = trimmed.startsWith("onnx:") ? [trimmed] : trimmed.split("+");
  if (parts.length === 1) return createOne(trimmed, options);
  const encoders: Encoder[] = [];
  try {
    for (const part of parts) encoders.push(await createOne(part, options));
    return new ConcatEncoder(encoders);
  } catch (err) {
    for (const e of encoders) e.dispose();
    throw err;
  }
}
