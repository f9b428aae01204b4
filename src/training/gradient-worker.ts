import { parentPort, workerData } from "node:worker_threads";
import { createDecoder } from "../decoders/factory.js";
import { concatFeatureReaders, memoryFeatureReader } from "../features/concat-reader.js";
import { openFeatureStore } from "../features/reader.js";
import type { FeatureReader } from "../features/types.js";
import { tf } from "../tfjs/backend.js";
import { initTfjs } from "../tfjs/init.js";
import { captionFeatures, tokenBatch } from "./batches.js";
import { computeGradients, disposeGradients } from "./step.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./worker-protocol.js";

/*
 * One data-parallel replica: its own wasm backend, decoder and feature reader. Each step it receives the
 * current weights and a shard of the batch, and answers with the flattened gradients.
 */
const init = workerData as WorkerInit;
await initTfjs("wasm", { nativeMatMul: true });
const decoder = createDecoder(init.decoderConfig, init.shape, init.seed);
const names = [...decoder.variables.keys()];
const reader: FeatureReader =
  init.features.kind === "dirs"
    ? concatFeatureReaders(init.features.dirs.map((dir) => openFeatureStore(dir, { allowPartial: true })))
    : memoryFeatureReader(
        init.features.encoder,
        init.features.gridShape,
        init.features.pooledSize,
        new Map(init.features.entries),
      );
const counter = decoder as unknown as { dropoutCalls?: number };

parentPort?.on("message", (request: WorkerRequest) => {
  if (request.type === "stop") {
    reader.close();
    decoder.dispose();
    parentPort?.close();
    return;
  }
  let offset = 0;
  for (const name of names) {
    const variable = decoder.variables.get(name)!;
    // tidy: assign() keeps its own reference, the temporary tensor must still be released (a leak of
    // one model copy per step otherwise exhausts the wasm heap after ~100 steps).
    tf.tidy(() =>
      variable.assign(tf.tensor(request.weights.subarray(offset, offset + variable.size), variable.shape)),
    );
    offset += variable.size;
  }
  if (counter.dropoutCalls !== undefined) counter.dropoutCalls = request.dropoutCalls;
  const result = computeGradients(
    decoder,
    captionFeatures(reader, request.ids, request.views),
    tokenBatch(request.captions),
    init.loss,
    request.captionWeights,
  );
  const flat = new Float32Array(offset);
  offset = 0;
  for (const name of names) {
    const size = decoder.variables.get(name)!.size;
    const grad = result.grads.get(name);
    if (grad) flat.set(grad.dataSync() as Float32Array, offset);
    offset += size;
  }
  disposeGradients(result.grads);
  const reply: WorkerReply = { type: "grads", grads: flat, loss: result.loss, tokens: result.tokens };
  parentPort?.postMessage(reply, [flat.buffer]);
});
parentPort?.postMessage({ type: "ready" } satisfies WorkerReply);
