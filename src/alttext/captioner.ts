import { loadCaptioner } from "../captioner/captioner.js";
import type { Captioner } from "../generation/types.js";

export interface ModelLoadOptions {
  mirror?: boolean;
  memory?: string;
  prior?: boolean;
  /** Decoder runtime: "onnx" (default) or "tfjs". */
  runtime?: "onnx" | "tfjs";
}

/**
 * Loads the captioning model for the CLI: the given folder, or the bundled models/default. `mirror`
 * overrides the folder's test-time mirroring setting; `memory` is a caption memory folder built for
 * the model (consensus re-ranking); `prior: false` turns off the model's n-gram prior.
 */
export async function loadModel(modelDir?: string, options: ModelLoadOptions = {}): Promise<Captioner> {
  return loadCaptioner({
    ...(modelDir === undefined ? {} : { modelDir }),
    ...(options.mirror === undefined ? {} : { mirror: options.mirror }),
    ...(options.memory === undefined ? {} : { memoryDir: options.memory }),
    ...(options.prior === undefined ? {} : { prior: options.prior }),
    ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
  });
}

export { captionEach, type Settled } from "../captioner/settle.js";
