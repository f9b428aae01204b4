import { createServer } from "node:http";
import type { Command } from "commander";
import { z } from "zod";
import type { CaptionWorker } from "../../distributed/worker.js";
import { parseFlags } from "../flags.js";
import { RUNTIME_OPTION, runtimeFlagField } from "../rerank-flags.js";

const optionsSchema = z
  .object({
    redis: z.string({ error: "--redis is required, e.g. redis://queue-host:6379" }),
    queue: z.string().min(1).optional(),
    concurrency: z.coerce.number().int().min(1).max(64).default(1),
    model: z.string().optional(),
    runtime: runtimeFlagField,
    embeddingModel: z.string().optional(),
    stalledMs: z.coerce.number().int().min(1000).default(30_000),
    statusEvery: z.coerce.number().min(0).default(30),
    metricsPort: z.coerce.number().int().min(0).max(65535).optional(),
    metricsHost: z.string().default("127.0.0.1"),
  })
  .strict();

export type WorkerCommandOptions = z.input<typeof optionsSchema>;

/** "w: 12 jobs, 190 images (2 unreadable), 3.1 images/s, 1 active" */
export function statusLine(worker: Pick<CaptionWorker, "name" | "stats">, now = Date.now()): string {
  const { jobs, images, failedImages, active, startedAt } = worker.stats;
  const rate = images / Math.max(1e-3, (now - startedAt) / 1000);
  return (
    `worker ${worker.name}: ${jobs} jobs, ${images} images` +
    `${failedImages ? ` (${failedImages} unreadable)` : ""}, ${rate.toFixed(2)} images/s, ${active} active`
  );
}

export function register(program: Command): void {
  program
    .command("worker")
    .description(
      "Caption and embed queued batches for `captionkit index --redis` producers (BullMQ on Redis)",
    )
    .requiredOption("--redis <url>", "Redis to take jobs from: redis://[user:password@]host:port[/db]")
    .option("--queue <name>", "queue name, the producer's (default captionkit)")
    .option("--concurrency <n>", "jobs (image batches) processed at once", "1")
    .option("--model <dir>", "caption model folder, the producer's (default: the shipped model)")
    .option(...RUNTIME_OPTION)
    .option(
      "--embedding-model <dir>",
      "joint-embedding model folder, the producer's (default: the shipped one)",
    )
    .option(
      "--stalled-ms <ms>",
      "a dead worker's job goes to another after about this long; above the slowest batch",
      "30000",
    )
    .option("--status-every <s>", "seconds between progress lines on stderr (0: none)", "30")
    .option("--metrics-port <n>", "serve Prometheus metrics at http://HOST:N/metrics")
    .option("--metrics-host <host>", "address for --metrics-port", "127.0.0.1")
    .action(async (raw: WorkerCommandOptions) => {
      const flags = parseFlags(optionsSchema, raw);
      const [{ startCaptionWorker }, { defaultIndexIo }, { DEFAULT_EMBEDDING_DIR }] = await Promise.all([
        import("../../distributed/worker.js"),
        import("./index.js"),
        import("../../search/models.js"),
      ]);
      const pipeline = await defaultIndexIo.createPipeline({
        ...(flags.model ? { model: flags.model } : {}),
        embeddingModel: flags.embeddingModel ?? DEFAULT_EMBEDDING_DIR,
        ...(flags.runtime ? { runtime: flags.runtime } : {}),
      });
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const worker = await startCaptionWorker(pipeline, {
        redis: flags.redis,
        concurrency: flags.concurrency,
        stalledMs: flags.stalledMs,
        ...(flags.queue ? { queue: flags.queue } : {}),
        onError: (error) => log(`worker: redis: ${error.message}`),
      });
      const metrics =
        flags.metricsPort === undefined
          ? undefined
          : createServer((req, res) => {
              if (req.url !== "/metrics") {
                res.writeHead(404).end();
                return;
              }
              worker.registry.metrics().then(
                (text) => res.writeHead(200, { "content-type": worker.registry.contentType }).end(text),
                () => res.writeHead(500).end(),
              );
            });
      if (metrics) {
        await new Promise<void>((resolve) => metrics.listen(flags.metricsPort, flags.metricsHost, resolve));
        const address = metrics.address();
        const port = typeof address === "object" && address ? address.port : flags.metricsPort;
        log(`worker ${worker.name}: metrics at http://${flags.metricsHost}:${port}/metrics`);
      }
      log(
        `worker ${worker.name}: ready on queue ${flags.queue ?? "captionkit"} with ${pipeline.captionModel}`,
      );
      const timer =
        flags.statusEvery > 0
          ? setInterval(() => log(statusLine(worker)), flags.statusEvery * 1000)
          : undefined;
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log(`worker ${worker.name}: ${signal}, finishing ${worker.stats.active} active jobs`);
        if (timer) clearInterval(timer);
        await worker.close();
        metrics?.close();
        pipeline.dispose();
        log(statusLine(worker));
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
    });
}
