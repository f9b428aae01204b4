import { Queue, QueueEvents } from "bullmq";
import { embedFeatures, type LoadedEmbedding } from "../search/models.js";
import type { ImageFeatures, IndexPipeline, PipelineInput, ProcessedImage } from "../search/pipeline.js";
import {
  DEFAULT_QUEUE,
  fromWire,
  type JobData,
  type JobResult,
  jobId,
  type ModelSpec,
  redisConnection,
} from "./protocol.js";

/** How long a finished job's result waits for its producer: a week covers a producer down for days. */
const KEEP_SECONDS = 7 * 24 * 3600;

export interface QueuePipelineOptions {
  redis: string;
  queue?: string;
  /** Caption model name (model.json's) and folder, recorded in the index as a local run would. */
  captionModel: string;
  captionDigest?: string;
  captionModelDir?: string;
  /** The joint embedding: vectors are computed here, from the features the workers return. */
  embedding?: LoadedEmbedding;
  /** Tries per job before its images become error records. Default 3. */
  attempts?: number;
}

/**
 * The producer's side of distributed indexing: an IndexPipeline whose process() sends the batch to
 * the queue and waits for a worker's result, so `indexFolder` stays the one writer and the index
 * logic (dedupe, transactions, embedding) is the same as on one machine. A batch whose job fails for
 * good is retried image by image, so one bad photo fails alone; each image that still fails comes
 * back as an Error (an error record), never as an endless retry.
 */
export class QueuePipeline implements IndexPipeline {
  readonly captionModel: string;
  readonly captionModelDir: string | undefined;
  readonly embeddingModel: string | undefined;
  /** Workers read the photos from shared storage: the producer only hashes them. */
  readonly readsPaths = true;
  private readonly spec: ModelSpec;
  private readonly jobs = new Map<PipelineInput[], string[]>();

  private constructor(
    private readonly queue: Queue<JobData, JobResult>,
    private readonly events: QueueEvents,
    private readonly options: QueuePipelineOptions,
  ) {
    this.captionModel = options.captionModel;
    this.captionModelDir = options.captionModelDir;
    this.embeddingModel = options.embedding?.id;
    this.spec = {
      captionModel: options.captionModel,
      ...(options.captionDigest ? { captionDigest: options.captionDigest } : {}),
      ...(options.embedding ? { embeddingModel: options.embedding.id } : {}),
    };
  }

  static async connect(options: QueuePipelineOptions): Promise<QueuePipeline> {
    const connection = redisConnection(options.redis);
    const name = options.queue ?? DEFAULT_QUEUE;
    const queue = new Queue<JobData, JobResult>(name, { connection });
    const events = new QueueEvents(name, { connection });
    queue.on("error", () => {});
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new QueuePipeline(queue, events, options);
  }

  async process(inputs: PipelineInput[]): Promise<(ProcessedImage | Error)[]> {
    const ids: string[] = [];
    this.jobs.set(inputs, ids);
    const whole = await this.run(inputs, ids);
    if (!(whole instanceof Error)) return whole;
    if (inputs.length === 1) return [whole];
    // one image may be what kills the batch: alone, it fails by itself and the others go through
    return Promise.all(
      inputs.map(async (input) => {
        const one = await this.run([input], ids);
        return one instanceof Error ? one : one[0]!;
      }),
    );
  }

  /** One job for these images: its results, or the error it failed with after every attempt. */
  private async run(inputs: PipelineInput[], ids: string[]): Promise<(ProcessedImage | Error)[] | Error> {
    const id = jobId(this.spec, inputs);
    ids.push(id);
    // a job that failed for good in an earlier run gets one more round, as a local re-run would try again
    const earlier = await this.queue.getJob(id);
    if (earlier && (await earlier.isFailed())) await earlier.retry("failed");
    const job = await this.queue.add(
      "caption",
      { spec: this.spec, paths: inputs.map((i) => i.path) },
      {
        jobId: id,
        attempts: this.options.attempts ?? 3,
        backoff: { type: "exponential", delay: 1000 },
        // kept until written to the index (committed() removes it), so a restarted producer finds it;
        // the age bound drops what a producer killed between writing and removing leaves behind
        removeOnComplete: { age: KEEP_SECONDS },
        removeOnFail: { age: KEEP_SECONDS },
      },
    );
    try {
      const result = (await job.waitUntilFinished(this.events)) as JobResult;
      if (result.results.length !== inputs.length)
        return new Error(`job ${id}: ${result.results.length} results for ${inputs.length} images`);
      return result.results.map(fromWire);
    } catch (error) {
      return new Error(`queue job ${id} failed: ${(error as Error).message}`);
    }
  }

  /** The batch is in the index: its jobs (and their results) can go. */
  async committed(inputs: PipelineInput[]): Promise<void> {
    const ids = this.jobs.get(inputs) ?? [];
    this.jobs.delete(inputs);
    await Promise.all(ids.map((id) => this.queue.remove(id)));
  }

  embed(features: ImageFeatures[]): Float32Array | undefined {
    return embedFeatures(this.options.embedding, features);
  }

  /** Waiting, active and finished-but-unwritten jobs (the health line shows them). */
  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts("waiting", "active", "completed", "failed", "delayed");
  }

  dispose(): void {
    void this.events.close();
    void this.queue.close();
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}
