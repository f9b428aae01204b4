import type { DecoderConfig, DecoderShape } from "../decoders/types.js";
import type { StepLossOptions } from "./step.js";

/** How a worker gets its features: cache folders (opened in the worker) or in-memory entries. */
export type WorkerFeatures =
  | { kind: "dirs"; dirs: string[] }
  | {
      kind: "memory";
      encoder: string;
      gridShape: [number, number, number];
      pooledSize: number;
      entries: [string, { grid: Float32Array; pooled: Float32Array }[]][];
    };

export interface WorkerInit {
  decoderConfig: DecoderConfig;
  shape: DecoderShape;
  seed: number;
  features: WorkerFeatures;
  loss: StepLossOptions;
}

export type WorkerRequest =
  | {
      type: "step";
      /** All decoder variables flattened in `variables` order. */
      weights: Float32Array;
      ids: string[];
      views: number[];
      captions: number[][];
      dropoutCalls: number;
      /** Per-caption advantages for self-critical steps (absent: cross-entropy). */
      captionWeights?: number[];
    }
  | { type: "stop" };

export type WorkerReply =
  | { type: "ready" }
  | { type: "grads"; grads: Float32Array; loss: number; tokens: number }
  | { type: "error"; message: string };
