import { type Command, Option } from "commander";
import { z } from "zod";
import { DEFAULT_MAX_PIXELS } from "../../image/limits.js";
import { parseFlags } from "../flags.js";
import { RUNTIME_OPTION, runtimeFlagField } from "../rerank-flags.js";

const flagsSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    host: z.string().min(1).default("127.0.0.1"),
    model: z.string().optional(),
    runtime: runtimeFlagField,
    mirror: z.boolean().optional(),
    memory: z.string().min(1).optional(),
    prior: z.boolean().optional(),
    db: z.string().optional(),
    maxBatch: z.coerce.number().int().min(1).max(64).default(8),
    maxWaitMs: z.coerce.number().min(0).max(1000).default(10),
    queue: z.coerce.number().int().min(1).default(64),
    timeoutMs: z.coerce.number().int().positive().default(30_000),
    bodyLimitMb: z.coerce.number().positive().default(20),
    maxPixels: z.coerce.number().int().positive().optional(),
    /** The older spelling, in millions: still accepted. */
    maxMegapixels: z.coerce.number().positive().optional(),
    minConfidence: z.coerce.number().min(0).max(1).optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .strict();

/** The serve command's flags, checked, with the pixel limit resolved from either spelling. */
export function parseServeFlags(raw: Record<string, unknown>) {
  const flags = parseFlags(flagsSchema, raw);
  if (flags.maxPixels !== undefined && flags.maxMegapixels !== undefined) {
    throw new Error("give --max-pixels or --max-megapixels, not both");
  }
  const maxPixels =
    flags.maxPixels ??
    (flags.maxMegapixels === undefined ? DEFAULT_MAX_PIXELS : Math.round(flags.maxMegapixels * 1e6));
  return { ...flags, maxPixels };
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve captions over HTTP (POST /v1/captions) with a web page at /.")
    .option("--port <n>", "TCP port (0 picks a free one)", "8080")
    .option(
      "--host <address>",
      "address to listen on; keep 127.0.0.1 unless others must reach it",
      "127.0.0.1",
    )
    .option("--model <dir>", "model folder (default: the bundled models/default)")
    .option(
      "--mirror",
      "average the model over each image and its mirror image (default: the model's setting)",
    )
    .option("--no-mirror", "caption the image as it is only: about half the time of a mirroring model")
    .option(
      "--memory <dir>",
      "caption memory built for the model (`captionkit memory`): re-rank by consensus",
    )
    .option("--no-prior", "do not re-rank with the model's n-gram prior (ngram-prior.json)")
    .option(...RUNTIME_OPTION)
    .option("--db <file>", "photo index from `captionkit index`: adds GET /v1/search and a search box")
    .option("--max-batch <n>", "most images per model call; 1 turns micro-batching off", "8")
    .option("--max-wait-ms <ms>", "how long a request may wait for others to share its model call", "10")
    .option("--queue <n>", "requests allowed to wait; more get 503 with Retry-After", "64")
    .option("--timeout-ms <ms>", "per request, waiting plus model time", "30000")
    .option("--body-limit-mb <mb>", "largest upload", "20")
    .option(
      "--max-pixels <n>",
      `largest image, width x height from its header (decompression-bomb guard; default ${DEFAULT_MAX_PIXELS})`,
    )
    .addOption(new Option("--max-megapixels <mp>", "the same limit in millions of pixels").hideHelp())
    .option("--min-confidence <x>", "flag answers below X with low_confidence: true")
    .option("--log-level <level>", "pino log level (logs go to stderr as JSON lines)", "info")
    .action(async (rawFlags: Record<string, unknown>) => {
      const flags = parseServeFlags(rawFlags);
      // Loaded here, not at the top: `--help` must not load the server, the models or their runtimes.
      const [{ default: pino }, { loadModel }, { openPhotoSearch }, { buildServer }] = await Promise.all([
        import("pino"),
        import("../../alttext/captioner.js"),
        import("../../search/photo-search.js"),
        import("../../serve/index.js"),
      ]);
      const logger = pino({ level: flags.logLevel }, pino.destination(2));
      const captioner = await loadModel(flags.model, {
        ...(flags.mirror === undefined ? {} : { mirror: flags.mirror }),
        ...(flags.memory === undefined ? {} : { memory: flags.memory }),
        ...(flags.prior === undefined ? {} : { prior: flags.prior }),
        ...(flags.runtime === undefined ? {} : { runtime: flags.runtime }),
      });
      const search = flags.db ? await openPhotoSearch(flags.db) : undefined;
      const apiKey = process.env.CAPTIONKIT_API_KEY || undefined;
      const app = await buildServer({
        captioner,
        ...(search ? { search } : {}),
        logger,
        maxBatch: flags.maxBatch,
        maxWaitMs: flags.maxWaitMs,
        maxQueue: flags.queue,
        timeoutMs: flags.timeoutMs,
        bodyLimitBytes: Math.round(flags.bodyLimitMb * 1024 * 1024),
        maxPixels: flags.maxPixels,
        ...(flags.minConfidence !== undefined ? { minConfidence: flags.minConfidence } : {}),
        ...(apiKey ? { apiKey } : {}),
      });
      const address = await app.listen({ port: flags.port, host: flags.host });
      process.stderr.write(
        `captionkit: serving ${captioner.modelName} at ${address} (page at /, API at /v1/captions${apiKey ? ", API key required" : ""})\n`,
      );
      const shutdown = async () => {
        await app.close();
        search?.close();
        captioner.dispose();
        process.exit(0);
      };
      process.once("SIGINT", () => void shutdown());
      process.once("SIGTERM", () => void shutdown());
    });
}
