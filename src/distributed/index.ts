export { QueuePipeline, type QueuePipelineOptions } from "./producer.js";
export { DEFAULT_QUEUE, type JobData, type JobResult, type ModelSpec, redisConnection } from "./protocol.js";
export {
  type CaptionWorker,
  type CaptionWorkerOptions,
  startCaptionWorker,
  type WorkerStats,
} from "./worker.js";
