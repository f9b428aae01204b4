import { readFile } from "node:fs/promises";
import os from "node:os";
import { type Job, Worker } from "bullmq";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { captionEach } from "../captioner/settle.js";
import type { Captioner, CaptionOptions } from "../generation/types.js";
import type { IndexPipeline, PipelineInput, ProcessedImage } from "../search/pipeline.js";
import {
  DEFAULT_QUEUE,
  errorToWire,
  type JobData,
  type JobResult,
  redisConnection,
  toWire,
} from "./protocol.js";

export interface CaptionWorkerOptions {
  /** redis://[user:password@]host:port[/db] */
  redis: string;
  queue?: string;
  /** Jobs taken at once. Default 1: one batch keeps a process's model busy. */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal: a worker killed mid-batch has its job handed to
   * another after about this long (BullMQ's stalled-job check). Default 30,000 ms.
   */
  stalledMs?: number;
  /** Worker name in results and logs. Default host:pid. */
  name?: string;
  /** Redis connection trouble (ioredis keeps retrying meanwhile). */
  onError?: (error: Error) => void;
}

export interface WorkerStats {
  jobs: number;
  images: number;
  failedImages: number;
  active: number;
  startedAt: number;
}

export interface CaptionWorker {
  readonly name: string;
  readonly stats: WorkerStats;
  readonly registry: Registry;
  /** Stops taking jobs and waits for the active ones to finish (what SIGTERM does). */
  close(): Promise<void>;
}

/**
 * A BullMQ worker that captions and embeds batches of image paths with the same pipeline as a local
 * `index` (DefaultPipeline), and returns the results for the producer to write. An unreadable image is
 * an error record in the result, not a failed job; a job fails (and is retried elsewhere) only when
 * the pipeline itself throws or the producer asked for other models than this worker has.
 */
export async function startCaptionWorker(
  pipeline: IndexPipeline & { readonly captionModelDigest?: string; readonly captioner?: Captioner },
  options: CaptionWorkerOptions,
): Promise<CaptionWorker> {
  const name = options.name ?? `${os.hostname()}:${process.pid}`;
  const stats: WorkerStats = { jobs: 0, images: 0, failedImages: 0, active: 0, startedAt: Date.now() };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "captionkit_" });
  const jobs = new Counter({
    name: "captionkit_worker_jobs_total",
    help: "Queue jobs (image batches) finished, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const images = new Counter({
    name: "captionkit_worker_images_total",
    help: "Images processed, by outcome (captioned, or error for an unreadable image).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "captionkit_worker_job_duration_seconds",
    help: "Time to read, caption and embed one batch.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  new Gauge({
    name: "captionkit_worker_active_jobs",
    help: "Jobs being processed now.",
    registers: [registry],
    collect() {
      this.set(stats.active);
    },
  });

  const handle = async (job: Job<JobData, JobResult>): Promise<JobResult> => {
    const { spec, paths } = job.data;
    const mismatch =
      spec.captionModel !== pipeline.captionModel ||
      (spec.captionDigest !== undefined && spec.captionDigest !== pipeline.captionModelDigest) ||
      (job.name !== "caption" && (spec.embeddingModel ?? "") !== (pipeline.embeddingModel ?? ""));
    if (mismatch) {
      throw new Error(
        `worker ${name} runs caption model ${pipeline.captionModel} and embedding ${pipeline.embeddingModel ?? "none"}, ` +
          `the producer asked for ${spec.captionModel} and ${spec.embeddingModel ?? "none"}: start every worker with the producer's --model and --embedding-model`,
      );
    }
    stats.active++;
    const stop = seconds.startTimer();
    try {
      if (job.name === "caption") return await captionJob(paths, job.data.options ?? {});
      const results: (ProcessedImage | Error)[] = paths.map(() => new Error("not processed"));
      const inputs: { input: PipelineInput; at: number }[] = [];
      await Promise.all(
        paths.map(async (p, at) => {
          try {
            inputs.push({ input: { path: p, bytes: await readFile(p) }, at });
          } catch (error) {
            results[at] = new Error(`${p}: cannot read it on worker ${name} (${(error as Error).message})`);
          }
        }),
      );
      inputs.sort((a, b) => a.at - b.at);
      const processed = inputs.length > 0 ? await pipeline.process(inputs.map((i) => i.input)) : [];
      inputs.forEach(({ at }, i) => {
        results[at] = processed[i]!;
      });
      const failed = results.filter((r) => r instanceof Error).length;
      images.inc({ outcome: "captioned" }, results.length - failed);
      if (failed) images.inc({ outcome: "error" }, failed);
      jobs.inc({ outcome: "completed" });
      stats.jobs++;
      stats.images += results.length;
      stats.failedImages += failed;
      return { worker: name, results: results.map(toWire) };
    } catch (error) {
      jobs.inc({ outcome: "failed" });
      throw error;
    } finally {
      stop();
      stats.active--;
    }
  };

  // `captionkit caption --redis`: the captioner alone, per-image outcomes as `caption` reports them
  const captionJob = async (paths: string[], captionOptions: CaptionOptions): Promise<JobResult> => {
    if (!pipeline.captioner) throw new Error(`worker ${name} has no captioner for caption jobs`);
    const settled = await captionEach(pipeline.captioner, paths, captionOptions);
    const failed = settled.filter((s) => s.error).length;
    images.inc({ outcome: "captioned" }, settled.length - failed);
    if (failed) images.inc({ outcome: "error" }, failed);
    jobs.inc({ outcome: "completed" });
    stats.jobs++;
    stats.images += settled.length;
    stats.failedImages += failed;
    return {
      worker: name,
      captions: settled.map((s) => (s.error ? errorToWire(s.error) : { result: s.result! })),
    };
  };

  const stalledMs = options.stalledMs ?? 30_000;
  const worker = new Worker<JobData, JobResult>(options.queue ?? DEFAULT_QUEUE, handle, {
    connection: redisConnection(options.redis),
    concurrency: options.concurrency ?? 1,
    lockDuration: stalledMs,
    stalledInterval: stalledMs,
    // a job whose worker died twice (an image that crashes the process) fails instead of looping
    maxStalledCount: 1,
  });
  // connection errors are retried by ioredis; without a listener they would crash the process
  worker.on("error", (error) => options.onError?.(error));
  await worker.waitUntilReady();
  return {
    name,
    stats,
    registry,
    close: () => worker.close(),
  };
}
