import os from "node:os";

// A module of its own so that \`captionkit features --help\` can show it without loading the encoders.

/**
 * Default worker count: one worker per core, each encoder on one onnxruntime thread (or its own
 * single-threaded tfjs wasm backend). Measured on 2 cores with onnxruntime (docs/results/features.md):
 * 2 workers 60.5 / 112 images/s (mobilenet_v2_mid / centernet_224) vs one main-thread encoder with 2
 * onnxruntime threads 50.8 / 112, and intra-op threads stall when another process holds a core.
 */
export const DEFAULT_EXTRACT_WORKERS = os.availableParallelism();
