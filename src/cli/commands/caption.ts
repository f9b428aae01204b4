import type { Command } from "commander";
import { z } from "zod";
// Light modules only at the top: `captionkit caption --help` must not load tfjs, onnxruntime or sharp.
import type { ModelLoadOptions } from "../../alttext/captioner.js";
import { CSV_HEADER, formatCsvRow, formatText, keptNote, OUTPUT_FORMATS } from "../../alttext/format.js";
import type { ObjectTagger } from "../../alttext/object-tagger.js";
import type { AltTextRecord } from "../../alttext/types.js";
import type { Captioner } from "../../generation/types.js";
import { DEFAULT_MAX_PIXELS } from "../../image/limits.js";
import { parseFlags } from "../flags.js";
import { startProgress } from "../progress.js";
import { RUNTIME_OPTION, runtimeFlagField } from "../rerank-flags.js";

const optionsSchema = z
  .object({
    model: z.string().optional(),
    runtime: runtimeFlagField,
    beam: z.coerce.number().int().min(1).max(10).default(3),
    alternatives: z.coerce.number().int().min(0).max(10).default(2),
    format: z.enum(OUTPUT_FORMATS as [string, ...string[]]).default("text"),
    recursive: z.boolean().default(false),
    concurrency: z.coerce.number().int().min(1).max(256).optional(),
    out: z.string().optional(),
    xmpSidecar: z.boolean().default(false),
    embed: z.boolean().default(false),
    backup: z.boolean().default(true),
    overwrite: z.boolean().default(false),
    maxPixels: z.coerce.number().int().positive().default(DEFAULT_MAX_PIXELS),
    minConfidence: z.coerce.number().min(0).max(1).optional(),
    objects: z.boolean().default(false),
    mirror: z.boolean().optional(),
    memory: z.string().min(1).optional(),
    prior: z.boolean().optional(),
    redis: z.string().optional(),
    queue: z.string().min(1).optional(),
  })
  .strict();

export type CaptionCommandOptions = z.input<typeof optionsSchema>;

export interface CaptionCommandIo {
  loadCaptioner(modelDir?: string, options?: ModelLoadOptions): Promise<Captioner>;
  /** For --objects; default: CenterNet-512 from @vladmandic/human (ObjectTagger). */
  loadTagger?(): Promise<Pick<ObjectTagger, "tagImage" | "dispose">>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Which of stdout and stderr are terminals (for the progress bar). Default: neither. */
  terminal?: { stdout: boolean; stderr: boolean; columns?: number };
}

export interface CaptionSummary {
  total: number;
  captioned: number;
  skipped: number;
  failed: number;
  /** Captioned, but a description captionkit did not write was kept in the sidecar or image. */
  kept: number;
}

async function loadObjectTagger(): Promise<ObjectTagger> {
  const { ObjectTagger } = await import("../../alttext/object-tagger.js");
  return ObjectTagger.create();
}

/** The whole command minus argument parsing; tests call it with a fake captioner. */
export async function runCaption(
  inputs: string[],
  rawOptions: CaptionCommandOptions,
  io: CaptionCommandIo,
): Promise<CaptionSummary> {
  const options = parseFlags(optionsSchema, rawOptions);
  const [{ expandInputs }, { ResultsLog }, { captionFiles, planBatch }] = await Promise.all([
    import("../../alttext/inputs.js"),
    import("../../alttext/results-log.js"),
    import("../../alttext/batch.js"),
  ]);
  const paths = await expandInputs(inputs, { recursive: options.recursive });
  if (paths.length === 0) {
    throw new Error(
      `no images found in ${inputs.join(" ")} (folders are searched for image files; add --recursive for subfolders)`,
    );
  }
  const log = options.out ? new ResultsLog(options.out) : undefined;
  if (log?.repairedBytes) {
    io.stderr(
      `${options.out}: removed an incomplete last line (${log.repairedBytes} bytes) left by an interrupted run\n`,
    );
  }
  if (log?.unreadableLines) {
    io.stderr(
      `${options.out}: ${log.unreadableLines} lines are not JSON records; they are left as they are\n`,
    );
  }
  const { todo, skipped } = planBatch(paths, log, {
    retryKept: options.overwrite && (options.xmpSidecar || options.embed),
  });
  if (skipped.length > 0)
    io.stderr(`skipping ${skipped.length} images already captioned in ${options.out}\n`);
  const summary: CaptionSummary = {
    total: paths.length,
    captioned: 0,
    skipped: skipped.length,
    failed: 0,
    kept: 0,
  };
  if (todo.length === 0) {
    log?.close();
    return summary;
  }

  const captioner = options.redis
    ? await queueCaptioner(options.redis, options)
    : await io.loadCaptioner(options.model, {
        ...(options.mirror === undefined ? {} : { mirror: options.mirror }),
        ...(options.memory === undefined ? {} : { memory: options.memory }),
        ...(options.prior === undefined ? {} : { prior: options.prior }),
        ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
      });
  const tagger = options.objects ? await (io.loadTagger ?? loadObjectTagger)() : undefined;
  // Results streaming to the terminal are progress enough; a bar between them would garble them.
  const streaming = !log && options.format !== "json";
  const progress = startProgress("captioning", todo.length, {
    unit: "images",
    hidden: streaming && io.terminal?.stdout === true,
    stream: {
      isTTY: io.terminal?.stderr ?? false,
      columns: io.terminal?.columns,
      write: (text: string) => {
        io.stderr(text);
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  });
  // Everything said on stderr during the run goes above the bar, in input order.
  const note = (record: AltTextRecord, errors: boolean) => {
    if (errors && record.error !== undefined) progress.log(`${record.image}: ${record.error}\n`);
    const kept = keptNote(record);
    if (kept) progress.log(`${record.image}: ${kept}\n`);
  };
  const collected: AltTextRecord[] = [];
  const withPath = paths.length > 1;
  if (!log && options.format === "csv") io.stdout(`${CSV_HEADER}\n`);
  try {
    for await (const record of captionFiles(todo, captioner, {
      beam: options.beam,
      alternatives: options.alternatives,
      // with a queue, the batches out at once are what keeps many workers busy
      concurrency: options.concurrency ?? (options.redis ? 32 : 2),
      xmpSidecar: options.xmpSidecar,
      embed: options.embed,
      backup: options.backup,
      overwrite: options.overwrite,
      maxPixels: options.maxPixels,
      ...(options.minConfidence !== undefined ? { minConfidence: options.minConfidence } : {}),
      ...(tagger ? { tagObjects: (path: string) => tagger.tagImage(path) } : {}),
    })) {
      if (record.code === "too_many_pixels") {
        record.error = `${record.error}; to caption it anyway, pass a larger --max-pixels (now ${options.maxPixels})`;
      }
      progress.increment();
      if (record.error === undefined) summary.captioned += 1;
      else summary.failed += 1;
      if (record.kept_description) summary.kept += 1;
      if (log) {
        log.append(record);
        note(record, true);
        continue;
      }
      switch (options.format) {
        case "jsonl":
          io.stdout(`${JSON.stringify(record)}\n`);
          note(record, false);
          break;
        case "json":
          collected.push(record);
          note(record, false);
          break;
        case "csv":
          io.stdout(`${formatCsvRow(record)}\n`);
          note(record, false);
          break;
        default:
          if (record.error === undefined) io.stdout(`${formatText(record, withPath)}\n`);
          note(record, true);
      }
    }
  } finally {
    progress.stop();
    log?.close();
    captioner.dispose();
    tagger?.dispose();
  }
  if (!log && options.format === "json") io.stdout(`${JSON.stringify(collected, null, 2)}\n`);
  const kept =
    summary.kept > 0
      ? ` (for ${summary.kept}, a description captionkit did not write was kept; --overwrite replaces it)`
      : "";
  if (log) {
    io.stderr(
      `${summary.captioned} captioned${kept}, ${summary.failed} failed, ${summary.skipped} skipped; results in ${options.out}\n`,
    );
  } else if (kept) {
    io.stderr(`${summary.captioned} captioned${kept}\n`);
  }
  return summary;
}

/** `--redis`: batches go to `captionkit worker`s; the model is only described here, never loaded. */
async function queueCaptioner(
  redis: string,
  options: { model?: string | undefined; queue?: string | undefined } & Record<string, unknown>,
): Promise<Captioner> {
  // --no-prior is the only way prior is set (commander defaults it to true)
  const local = ["mirror", "memory", "runtime"].filter((key) => options[key] !== undefined);
  if (options.prior === false) local.push("no-prior");
  if (local.length > 0) {
    throw new Error(
      `--${local[0]} is a model setting of the workers; with --redis they caption with their model folder's settings`,
    );
  }
  const [{ QueueCaptioner }, { describeModel }, { defaultModelDir }] = await Promise.all([
    import("../../distributed/producer.js"),
    import("../../model/load.js"),
    import("../../core/paths.js"),
  ]);
  const description = await describeModel(options.model ?? defaultModelDir());
  return QueueCaptioner.connect({
    redis,
    ...(options.queue ? { queue: options.queue } : {}),
    captionModel: description.meta.name,
    captionDigest: description.weightsDigest,
  });
}

export function register(program: Command): void {
  program
    .command("caption")
    .description("Write alt text for images: files, folders (--recursive) or globs.")
    .argument("<inputs...>", "image files, folders or quoted globs such as 'photos/**/*.jpg'")
    .option("--model <dir>", "model folder (default: the bundled models/default)")
    .option(...RUNTIME_OPTION)
    .option(
      "--mirror",
      "average the model over each image and its mirror image (default: the model's setting)",
    )
    .option("--no-mirror", "caption the image as it is only: about half the time of a mirroring model")
    .option(
      "--memory <dir>",
      "caption memory built for the model (`captionkit memory`): re-rank each beam by consensus with the captions of similar photos",
    )
    .option("--no-prior", "do not re-rank with the model's n-gram prior (ngram-prior.json)")
    .option("--beam <k>", "beam size; 1 is greedy", "3")
    .option("--alternatives <n>", "other captions to report per image", "2")
    .option("--format <format>", `output format: ${OUTPUT_FORMATS.join(", ")}`, "text")
    .option("--recursive", "descend into subfolders of the folders given")
    .option(
      "--concurrency <n>",
      "model calls in flight at once (default 2; with --redis, queued batches: 32)",
    )
    .option(
      "--redis <url>",
      "caption on `captionkit worker`s taking jobs from this Redis (paths on shared storage)",
    )
    .option("--queue <name>", "with --redis: the queue name (default captionkit)")
    .option("--out <file>", "append JSONL results to FILE and skip images it already holds (resumable)")
    .option("--xmp-sidecar", "write the caption as dc:description into <image>.xmp (other fields kept)")
    .option("--embed", "write XMP dc:description and EXIF ImageDescription into the image file")
    .option("--no-backup", "with --embed, do not keep <image>_original")
    .option(
      "--overwrite",
      "replace descriptions captionkit did not write (by default they are kept and the file is reported)",
    )
    .option(
      "--max-pixels <n>",
      "largest image to read, width x height (decompression-bomb guard)",
      String(DEFAULT_MAX_PIXELS),
    )
    .option("--min-confidence <x>", "mark captions below X (0..1) as low confidence and hedge their text")
    .option(
      "--objects",
      "also list the COCO objects found (CenterNet 512) as `objects` in json/jsonl/--out records",
    )
    .action(async (inputs: string[], flags: CaptionCommandOptions) => {
      const summary = await runCaption(inputs, flags, {
        loadCaptioner: async (modelDir, options) =>
          (await import("../../alttext/captioner.js")).loadModel(modelDir, options),
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        terminal: {
          stdout: process.stdout.isTTY === true,
          stderr: process.stderr.isTTY === true,
          ...(process.stderr.columns ? { columns: process.stderr.columns } : {}),
        },
      });
      if (summary.failed > 0) {
        throw new Error(`${summary.failed} of ${summary.total} images failed (see the error lines above)`);
      }
    });
}
