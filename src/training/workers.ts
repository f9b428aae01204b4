import type { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { startModuleWorker } from "../core/worker.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { configureNativeMatMul, nativeMatMulStatus } from "../tfjs/native-matmul.js";
import type { Gradients } from "./step.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./worker-protocol.js";

/** The part of a batch one thread trains on. */
export interface Shard {
  ids: string[];
  views: number[];
  captions: number[][];
  /** Dropout counter value for this shard's decoder (keeps replicas and resumes reproducible). */
  dropoutCalls: number;
  /** Per-caption advantages of a self-critical step (absent: cross-entropy). */
  captionWeights?: number[];
}

/**
 * Data parallelism over worker threads (tfjs wasm runs one thread per Node thread). The main thread
 * computes shard 0 itself while workers compute the others on copies of the current weights; gradients
 * are averaged weighted by target tokens, which equals the gradient of the whole batch's mean loss.
 */
export interface GradientWorkers {
  /** Threads taking part, the main thread included. */
  readonly threads: number;
  gradients(
    decoder: CaptionDecoder,
    shards: readonly Shard[],
    local: (shard: Shard) => Gradients,
  ): Promise<Gradients>;
  close(): Promise<void>;
}

function startWorker(workerData: WorkerInit): Worker {
  return startModuleWorker(new URL("./gradient-worker.js", import.meta.url), workerData);
}

export async function startGradientWorkers(threads: number, init: WorkerInit): Promise<GradientWorkers> {
  // One onnxruntime thread per replica: the replicas already keep the cores busy (workers get 1 by default).
  const matmulThreads = nativeMatMulStatus().threads;
  if (threads > 1) configureNativeMatMul({ threads: 1 });
  const workers: Worker[] = [];
  const pending = new Map<Worker, (reply: WorkerReply) => void>();
  const ready: Promise<void>[] = [];
  for (let i = 0; i < threads - 1; i++) {
    const worker = startWorker(init);
    workers.push(worker);
    ready.push(
      new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        pending.set(worker, (reply) =>
          reply.type === "ready" ? resolve() : reject(new Error("worker failed")),
        );
      }),
    );
    worker.on("message", (reply: WorkerReply) => {
      const handler = pending.get(worker);
      pending.delete(worker);
      handler?.(reply);
    });
    worker.on("error", (error) => {
      const handler = pending.get(worker);
      pending.delete(worker);
      handler?.({ type: "error", message: error.message });
    });
  }
  await Promise.all(ready);

  const ask = (worker: Worker, request: WorkerRequest) =>
    new Promise<WorkerReply>((resolve) => {
      pending.set(worker, resolve);
      worker.postMessage(request);
    });

  return {
    threads,
    async gradients(decoder, shards, local) {
      const names = [...decoder.variables.keys()];
      const total = names.reduce((sum, name) => sum + decoder.variables.get(name)!.size, 0);
      const weights = new Float32Array(total);
      let offset = 0;
      for (const name of names) {
        const variable = decoder.variables.get(name)!;
        weights.set(variable.dataSync() as Float32Array, offset);
        offset += variable.size;
      }
      const replies = shards
        .slice(1)
        .map((shard, i) => ask(workers[i]!, { type: "step", weights, ...shard }));
      const own = local(shards[0]!);
      const others = await Promise.all(replies);
      let tokens = own.tokens;
      let lossSum = own.loss * own.tokens;
      const sum = new Float32Array(total);
      offset = 0;
      for (const name of names) {
        const grad = own.grads.get(name);
        const size = decoder.variables.get(name)!.size;
        if (grad) {
          const data = grad.dataSync() as Float32Array;
          for (let k = 0; k < size; k++) sum[offset + k] = (data[k] as number) * own.tokens;
        }
        offset += size;
      }
      for (const reply of others) {
        if (reply.type !== "grads")
          throw new Error(`gradient worker failed: ${reply.type === "error" ? reply.message : reply.type}`);
        tokens += reply.tokens;
        lossSum += reply.loss * reply.tokens;
        for (let k = 0; k < total; k++)
          sum[k] = (sum[k] as number) + (reply.grads[k] as number) * reply.tokens;
      }
      for (const grad of own.grads.values()) grad.dispose();
      const grads = new Map<string, tf.Tensor>();
      offset = 0;
      for (const name of names) {
        const variable = decoder.variables.get(name)!;
        const slice = sum.subarray(offset, offset + variable.size).map((value) => value / tokens);
        grads.set(name, tf.tensor(slice, variable.shape, "float32"));
        offset += variable.size;
      }
      return { loss: lossSum / tokens, grads, tokens };
    },
    async close() {
      for (const worker of workers) worker.postMessage({ type: "stop" } satisfies WorkerRequest);
      await Promise.all(workers.map((worker) => worker.terminate()));
      if (matmulThreads !== undefined) configureNativeMatMul({ threads: matmulThreads });
    },
  };
}
