import type { Worker } from "node:worker_threads";
import { startModuleWorker } from "../core/worker.js";
import { createEncoder, type EncoderRuntime } from "../encoders/registry.js";
import { computeChunk, type ImageRef, writeChunk } from "./chunk.js";
import type { WorkerInit, WorkerMessage, WorkerTask } from "./extract-worker.js";
import type { StoreManifest } from "./format.js";

export interface PoolOptions {
  workers: number;
  /** Runtime of the built-in encoders (createEncoder's default when absent). */
  runtime?: EncoderRuntime;
  /** onnxruntime intra-op threads of the inline encoder (workers always use 1). */
  threads?: number;
  signal?: AbortSignal;
  /** Called as images finish (failed ones included). */
  onImages?: (n: number) => void;
}

function startWorker(workerData: WorkerInit): Worker {
  return startModuleWorker(new URL("./extract-worker.js", import.meta.url), workerData);
}

/**
 * Runs the given chunks on `workers` threads, each with its own encoder; chunks are handed out in
 * ascending order as workers free up, and each worker commits its chunk files itself. Rejects on the
 * first failure (after terminating every worker) or on abort, once the chunks in progress are committed
 * and the workers have exited; the rest is redone on the next run.
 */
export function runChunksInWorkers(
  dir: string,
  manifest: StoreManifest,
  chunks: { chunk: number; images: ImageRef[] }[],
  options: PoolOptions,
): Promise<void> {
  const queue = [...chunks];
  const count = Math.max(1, Math.min(options.workers, queue.length));
  const workers: Worker[] = [];
  return new Promise<void>((resolve, reject) => {
    let running = 0;
    let settled = false;
    let aborted = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      // Idle workers dispose their encoder and exit on their own: terminating a thread inside an
      // onnxruntime call takes the whole process down (Ctrl-C during `reproduce` aborted with a native
      // Napi::Error). Only after a failure, when a worker's state is unknown, are they terminated.
      const graceful = err === undefined || aborted;
      const stopped = Promise.all(workers.map((w) => (graceful ? stopWorker(w) : w.terminate())));
      if (err) stopped.finally(() => reject(err));
      else stopped.then(() => resolve(), reject);
    };
    const abortError = () => new Error("extraction aborted");
    // On abort no chunk is handed out any more; finish once the running ones are committed.
    const onAbort = () => {
      aborted = true;
      if (running === 0) finish(abortError());
    };
    if (options.signal?.aborted) return reject(abortError());
    options.signal?.addEventListener("abort", onAbort);
    if (queue.length === 0) return finish();

    const next = (worker: Worker) => {
      const task = aborted ? undefined : queue.shift();
      if (!task) {
        if (running === 0) finish(aborted ? abortError() : undefined);
        return;
      }
      running++;
      worker.postMessage({ type: "chunk", ...task } satisfies WorkerTask);
    };
    for (let i = 0; i < count; i++) {
      const init: WorkerInit = { dir, manifest, runtime: options.runtime };
      const worker = startWorker(init);
      workers.push(worker);
      worker.on("message", (m: WorkerMessage) => {
        if (settled) return;
        if (m.type === "ready") next(worker);
        else if (m.type === "progress") options.onImages?.(m.images);
        else if (m.type === "done") {
          running--;
          next(worker);
        } else finish(new Error(`feature worker failed: ${m.message}`));
      });
      worker.on("error", (err) => finish(err));
      worker.on("exit", (code) => {
        if (!settled) finish(new Error(`feature worker exited early with code ${code}`));
      });
    }
  });
}

/**
 * Asks an idle worker to dispose its encoder and exit (a worker still loading its encoder does so
 * once loaded); terminates it if it has not within 30 s.
 */
function stopWorker(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => void worker.terminate(), 30_000);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.postMessage({ type: "stop" } satisfies WorkerTask);
  });
}

/**
 * The same work on the calling thread with one encoder (workers = 0): no thread start-up cost. With
 * onnxruntime the encoder's own threads use the cores while sharp decodes the next batch on libuv
 * threads. Abort is checked between chunks.
 */
export async function runChunksInline(
  dir: string,
  manifest: StoreManifest,
  chunks: { chunk: number; images: ImageRef[] }[],
  options: Omit<PoolOptions, "workers">,
): Promise<void> {
  if (chunks.length === 0) return;
  const encoder = await createEncoder(manifest.encoder, {
    runtime: options.runtime,
    onnxThreads: options.threads ?? 0,
  });
  try {
    for (const { chunk, images } of chunks) {
      if (options.signal?.aborted) throw new Error("extraction aborted");
      const { data, index } = await computeChunk(encoder, manifest, images, chunk, options.onImages);
      if (options.signal?.aborted) throw new Error("extraction aborted");
      await writeChunk(dir, data, index);
    }
  } finally {
    encoder.dispose();
  }
}
