import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { defaultEmbeddingDir } from "../../core/paths.js";
import { isImageError } from "../../image/errors.js";
import type { IndexSummary } from "../../search/indexer.js";
import type { IndexPipeline } from "../../search/pipeline.js";
import { parseFlags } from "../flags.js";
import { type Progress, startProgress } from "../progress.js";
import { RUNTIME_OPTION, runtimeFlagField } from "../rerank-flags.js";

const optionsSchema = z
  .object({
    db: z.string({ error: "--db is required: the index file to create or update, e.g. photos.sqlite" }),
    recursive: z.boolean().default(false),
    model: z.string().optional(),
    runtime: runtimeFlagField,
    embeddingModel: z.string().default(defaultEmbeddingDir()),
    batch: z.coerce.number().int().min(1).max(256).default(16),
    redis: z.string().optional(),
    queue: z.string().min(1).optional(),
    inFlight: z.coerce.number().int().min(1).max(10_000).default(32),
  })
  .strict();

export type IndexCommandOptions = z.input<typeof optionsSchema>;

export interface IndexCommandIo {
  /** Builds the models' pipeline (tests inject a synthetic one); not called with --redis. */
  createPipeline(options: {
    model?: string;
    embeddingModel: string;
    runtime?: "onnx" | "tfjs";
  }): Promise<IndexPipeline>;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const defaultIndexIo: IndexCommandIo = {
  async createPipeline({ model, embeddingModel, runtime }) {
    const [{ loadCaptioner }, { DefaultPipeline }, { loadEmbeddingWithId }] = await Promise.all([
      import("../../captioner/captioner.js"),
      import("../../search/default-pipeline.js"),
      import("../../search/models.js"),
    ]);
    const captioner = await loadCaptioner({
      ...(model ? { modelDir: model } : {}),
      ...(runtime ? { runtime } : {}),
    });
    return new DefaultPipeline(captioner, await loadEmbeddingWithId(embeddingModel));
  },
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** The command minus argument parsing. */
export async function runIndex(
  folder: string,
  rawOptions: IndexCommandOptions,
  io: IndexCommandIo,
): Promise<IndexSummary> {
  const options = parseFlags(optionsSchema, rawOptions);
  const pipeline = options.redis
    ? await queuePipeline(options.redis, options)
    : await io.createPipeline({
        model: options.model,
        embeddingModel: options.embeddingModel,
        ...(options.runtime ? { runtime: options.runtime } : {}),
      });
  const [{ openDatabase }, { PhotoStore }, { indexFolder }] = await Promise.all([
    import("../../search/db/schema.js"),
    import("../../search/db/store.js"),
    import("../../search/indexer.js"),
  ]);
  const store = new PhotoStore(openDatabase(options.db));
  let progress: Progress | undefined;
  let shown = 0;
  try {
    store.setMeta("embedding_model_dir", path.resolve(options.embeddingModel));
    const summary = await indexFolder(store, folder, pipeline, {
      recursive: options.recursive,
      batchSize: options.batch,
      // with a queue: many batches out at once for the workers, and the same batches after a restart
      ...(options.redis ? { inFlight: options.inFlight, stableBatches: true } : {}),
      onProgress: ({ total, done }) => {
        progress ??= startProgress("indexing", total, { unit: "images" });
        progress.increment(done - shown);
        shown = done;
      },
      // an ImageError's message starts with the file's name already
      onError: (image, error) =>
        io.stderr(`skipped ${isImageError(error) ? error.message : `${image}: ${error.message}`}\n`),
    });
    progress?.stop();
    io.stdout(
      `${summary.scanned} images in ${folder}: ${summary.added} added, ${summary.updated} updated, ` +
        `${summary.unchanged} unchanged, ${summary.removed} removed, ${summary.failed} failed` +
        `${summary.reused ? ` (${summary.reused} copied from identical files)` : ""}; index ${options.db} holds ${store.count()}` +
        `${summary.vectorIndex === "none" ? "" : `; nearest-neighbour graph ${summary.vectorIndex}`}\n`,
    );
    return summary;
  } finally {
    progress?.stop();
    pipeline.dispose();
    store.db.close();
  }
}

/** The producer's pipeline: batches go to the queue; the models are only described, never loaded. */
async function queuePipeline(
  redis: string,
  options: { model?: string | undefined; embeddingModel: string; queue?: string | undefined },
): Promise<IndexPipeline> {
  const [{ QueuePipeline }, { describeModel }, { defaultModelDir }, { loadEmbeddingWithId }] =
    await Promise.all([
      import("../../distributed/producer.js"),
      import("../../model/load.js"),
      import("../../core/paths.js"),
      import("../../search/models.js"),
    ]);
  const dir = path.resolve(options.model ?? defaultModelDir());
  const description = await describeModel(dir);
  return QueuePipeline.connect({
    redis,
    ...(options.queue ? { queue: options.queue } : {}),
    captionModel: description.meta.name,
    captionDigest: description.weightsDigest,
    captionModelDir: dir,
    embedding: await loadEmbeddingWithId(options.embeddingModel),
  });
}

export function register(program: Command): void {
  program
    .command("index")
    .description("Caption and index a folder of photos into one SQLite file for `captionkit search`")
    .argument("<folder>", "folder of photos")
    .requiredOption("--db <file>", "index file to create or update (e.g. photos.sqlite)")
    .option("--recursive", "include subfolders", false)
    .option("--model <dir>", "caption model folder (default: the shipped model)")
    .option(...RUNTIME_OPTION)
    .option("--embedding-model <dir>", "joint-embedding model folder", defaultEmbeddingDir())
    .option("--batch <n>", "images per batch and per transaction (with --redis: per queue job)", "16")
    .option("--redis <url>", "produce for `captionkit worker`s on this Redis instead of captioning here")
    .option("--queue <name>", "with --redis: the queue name (default captionkit)")
    .option("--in-flight <n>", "with --redis: batches queued ahead of the one being written", "32")
    .action(async (folder: string, options: IndexCommandOptions) => {
      const summary = await runIndex(folder, options, defaultIndexIo);
      if (summary.failed > 0) process.exitCode = 1;
    });
}
