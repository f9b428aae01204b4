// What the CLI lists at registration, before any runtime is loaded: this module must stay light
// (builtin.ts holds specs only; their graphs load on first use).
import { builtinEncoders } from "./builtin.js";

/** What runs the built-in encoders: onnxruntime-node (graph converted at load) or tfjs wasm. */
export const ENCODER_RUNTIMES = ["onnx", "tfjs"] as const;
export type EncoderRuntime = (typeof ENCODER_RUNTIMES)[number];
/** onnx: several times faster than tfjs wasm on the CPU, same outputs within float rounding. */
export const DEFAULT_ENCODER_RUNTIME: EncoderRuntime = "onnx";

/** Registry names accepted by createEncoder (besides `a+b` joins and `onnx:<folder>`). */
export function encoderNames(): string[] {
  // colour_<size> takes any size that 7 divides; these two match the CNN encoders' inputs
  return [...Object.keys(builtinEncoders), "colour_224", "colour_448"];
}
