import { parentPort, workerData } from "node:worker_threads";
import { createEncoder, type EncoderRuntime } from "../encoders/registry.js";
import type { Encoder } from "../encoders/types.js";
import { computeChunk, type ImageRef, writeChunk } from "./chunk.js";
import type { StoreManifest } from "./format.js";

/** Sent once at start (workerData). */
export interface WorkerInit {
  dir: string;
  manifest: StoreManifest;
  runtime?: EncoderRuntime;
}
/** main -> worker */
export type WorkerTask = { type: "chunk"; chunk: number; images: ImageRef[] } | { type: "stop" };
/** worker -> main */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "progress"; images: number }
  | { type: "done"; chunk: number }
  | { type: "error"; message: string };

/**
 * One extraction worker: its own encoder (one onnxruntime thread, or its own tfjs wasm backend, which
 * is single-threaded in Node), so parallelism comes from one worker per core. It computes and commits
 * whole chunks on request.
 */
async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("extract-worker must run in a worker thread");
  const { dir, manifest, runtime } = workerData as WorkerInit;
  const send = (m: WorkerMessage) => port.postMessage(m);
  let encoder: Encoder;
  try {
    encoder = await createEncoder(manifest.encoder, { runtime, onnxThreads: 1 });
  } catch (err) {
    send({ type: "error", message: (err as Error).message });
    return;
  }
  port.on("message", (task: WorkerTask) => {
    if (task.type === "stop") {
      encoder.dispose();
      port.close();
      return;
    }
    computeChunk(encoder, manifest, task.images, task.chunk, (n) => send({ type: "progress", images: n }))
      .then(({ data, index }) => writeChunk(dir, data, index))
      .then(() => send({ type: "done", chunk: task.chunk }))
      .catch((err: Error) => send({ type: "error", message: err.stack ?? err.message }));
  });
  send({ type: "ready" });
}

void main();
