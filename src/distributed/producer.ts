import { Queue, QueueEvents } from "bullmq";
import type { Settled } from "../captioner/settle.js";
import type { Captioner, CaptionOptions, CaptionResult } from "../generation/types.js";
import { embedFeatures, type LoadedEmbedding } from "../search/models.js";
import type { ImageFeatures, IndexPipeline, PipelineInput, ProcessedImage } from "../search/pipeline.js";
import {
  DEFAULT_QUEUE,
  errorFromWire,
  fromWire,
  type JobData,
  type JobResult,
  jobId,
  type ModelSpec,
  redisConnection,
} from "./protocol.js";

/** How long a finished job's result waits for its producer: a week covers a producer down for days. */
const KEEP_SECONDS = 7 * 24 * 3600;

export interface QueueOptions {
  redis: string;
  queue?: string;
  /** Tries per job before its images become error records. Default 3. */
  attempts?: number;
}

/** The producer's end of the queue: add a job (or find it again by id) and wait for its result. */
class JobQueue {
  private constructor(
    readonly queue: Queue<JobData, JobResult>,
    private readonly events: QueueEvents,
    private readonly attempts: number,
  ) {}

  static async connect(options: QueueOptions): Promise<JobQueue> {
    const connection = redisConnection(options.redis);
    const name = options.queue ?? DEFAULT_QUEUE;
    const queue = new Queue<JobData, JobResult>(name, { connection });
    const events = new QueueEvents(name, { connection });
    queue.on("error", () => {});
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new JobQueue(queue, events, options.attempts ?? 3);
  }

  /** The job's result, or the error it failed with after every attempt. */
  async run(name: "index" | "caption", id: string, data: JobData): Promise<JobResult | Error> {
    // a job that failed for good in an earlier run gets one more round, as a local re-run would try again
    const earlier = await this.queue.getJob(id);
    if (earlier && (await earlier.isFailed())) await earlier.retry("failed");
    const job = await this.queue.add(name, data, {
      jobId: id,
      attempts: this.attempts,
      backoff: { type: "exponential", delay: 1000 },
      // kept until written (remove() drops it), so a restarted producer finds it; the age bound drops
      // what a producer killed between writing and removing leaves behind
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    });
    try {
      return (await job.waitUntilFinished(this.events)) as JobResult;
    } catch (error) {
      return new Error(`queue job ${id} failed: ${(error as Error).message}`);
    }
  }

  async remove(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.queue.remove(id)));
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}

export interface QueuePipelineOptions extends QueueOptions {
  /** Caption model name (model.json's) and folder, recorded in the index as a local run would. */
  captionModel: string;
  captionDigest?: string;
  captionModelDir?: string;
  /** The joint embedding: vectors are computed here, from the features the workers return. */
  embedding?: LoadedEmbedding;
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
    private readonly queue: JobQueue,
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
    return new QueuePipeline(await JobQueue.connect(options), options);
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

  private async run(inputs: PipelineInput[], ids: string[]): Promise<(ProcessedImage | Error)[] | Error> {
    const id = jobId(this.spec, inputs);
    ids.push(id);
    const result = await this.queue.run("index", id, { spec: this.spec, paths: inputs.map((i) => i.path) });
    if (result instanceof Error) return result;
    const results = result.results ?? [];
    if (results.length !== inputs.length) {
      return new Error(`queue job ${id}: ${results.length} results for ${inputs.length} images`);
    }
    return results.map(fromWire);
  }

  /** The batch is in the index: its jobs (and their results) can go. */
  async committed(inputs: PipelineInput[]): Promise<void> {
    const ids = this.jobs.get(inputs) ?? [];
    this.jobs.delete(inputs);
    await this.queue.remove(ids);
  }

  embed(features: ImageFeatures[]): Float32Array | undefined {
    return embedFeatures(this.options.embedding, features);
  }

  /** Waiting, active and finished-but-unwritten jobs. */
  async counts(): Promise<Record<string, number>> {
    return this.queue.queue.getJobCounts("waiting", "active", "completed", "failed", "delayed");
  }

  dispose(): void {
    void this.queue.close();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * `captionkit caption --redis`: a Captioner whose batches are captioned by queue workers. Per-image
 * outcomes come back settled (captionSettled), so an unreadable photo is an error record and its
 * neighbours go on; a batch whose job fails for good is tried image by image, as captionEach does.
 */
export class QueueCaptioner implements Captioner {
  readonly modelName: string;
  private readonly spec: ModelSpec;

  private constructor(
    private readonly queue: JobQueue,
    options: { captionModel: string; captionDigest?: string },
  ) {
    this.modelName = options.captionModel;
    this.spec = {
      captionModel: options.captionModel,
      ...(options.captionDigest ? { captionDigest: options.captionDigest } : {}),
    };
  }

  static async connect(
    options: QueueOptions & { captionModel: string; captionDigest?: string },
  ): Promise<QueueCaptioner> {
    return new QueueCaptioner(await JobQueue.connect(options), options);
  }

  async captionSettled(
    images: ReadonlyArray<string | Uint8Array>,
    options: CaptionOptions = {},
  ): Promise<Settled[]> {
    const paths = images.map((image) => {
      if (typeof image !== "string")
        throw new Error("caption --redis sends paths: image bytes cannot be queued");
      return image;
    });
    const id = jobId(
      this.spec,
      paths.map((path) => ({ path })),
      options,
    );
    const result = await this.queue.run("caption", id, { spec: this.spec, paths, options });
    const captions = result instanceof Error ? undefined : result.captions;
    if (!captions || captions.length !== paths.length) {
      // the caller (captionEach) retries image by image
      throw result instanceof Error ? result : new Error(`queue job ${id}: wrong number of results`);
    }
    // results are written by the caller as they arrive; a restart re-reads them from its results log
    await this.queue.remove([id]);
    return captions.map((c) => ("error" in c ? { error: errorFromWire(c) } : { result: c.result }));
  }

  async caption(
    images: ReadonlyArray<string | Uint8Array>,
    options?: CaptionOptions,
  ): Promise<CaptionResult[]> {
    const settled = await this.captionSettled(images, options);
    const failed = settled.find((s) => s.error);
    if (failed?.error) throw failed.error;
    return settled.map((s) => s.result!);
  }

  dispose(): void {
    void this.queue.close();
  }
}
