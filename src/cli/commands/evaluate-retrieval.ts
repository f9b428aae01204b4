import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { defaultEmbeddingDir } from "../../core/paths.js";
import type { MethodScores } from "../../search/evaluate.js";
import { GENERATIVE_CANDIDATES, RANKING_METHODS, type RankingMethod } from "../../search/types.js";
import { parseFlags } from "../flags.js";

const optionsSchema = z
  .object({
    dataset: z.string({ error: "--dataset is required (e.g. ../shared/datasets/flickr8k/captions.tsv)" }),
    split: z.string().default("val"),
    images: z.string().optional(),
    features: z.string({
      error: "--features is required: the cache folder written by `captionkit features`",
    }),
    methods: z.string().default(RANKING_METHODS.join(",")),
    embeddingModel: z.string().default(defaultEmbeddingDir()),
    model: z.string().optional(),
    generativeCandidates: z.coerce.number().int().min(1).max(1000).default(GENERATIVE_CANDIDATES),
    captionsPerImage: z.coerce.number().int().min(1).optional(),
    format: z.enum(["text", "json"]).default("text"),
    out: z.string().optional(),
  })
  .strict();

export type EvaluateRetrievalOptions = z.input<typeof optionsSchema>;

export async function runEvaluateRetrieval(
  rawOptions: EvaluateRetrievalOptions,
  io: { stdout(text: string): void; stderr(text: string): void },
): Promise<Partial<Record<RankingMethod, MethodScores>>> {
  const options = parseFlags(optionsSchema, rawOptions);
  const methods = options.methods.split(",").map((m) => m.trim()) as RankingMethod[];
  const unknown = methods.filter((m) => !RANKING_METHODS.includes(m));
  if (unknown.length > 0)
    throw new Error(`unknown method ${unknown.join(", ")}; use ${RANKING_METHODS.join(", ")}`);
  const needEmbedding = methods.some((m) => m !== "fts");
  const needCaptions = methods.some((m) => m !== "embedding");
  const { loadEmbeddingWithId } = await import("../../search/models.js");
  const embedding = needEmbedding ? (await loadEmbeddingWithId(options.embeddingModel)).model : undefined;
  const log = (line: string) => io.stderr(`${line}\n`);
  const [{ buildRetrievalSet }, { evaluateRetrievalSet }] = await Promise.all([
    import("../../search/evaluate-data.js"),
    import("../../search/evaluate.js"),
  ]);
  const { set, dispose } = await buildRetrievalSet({
    ...options,
    embedding,
    captionModel: options.model,
    needCaptions,
    log,
  });
  try {
    log(`${set.ids.length} images, ${set.captions.flat().length} caption queries`);
    const results = await evaluateRetrievalSet(set, {
      methods,
      embedding,
      generativeCandidates: options.generativeCandidates,
      log,
    });
    const json = JSON.stringify(results, null, 2);
    if (options.out) await writeFile(options.out, `${json}\n`);
    io.stdout(options.format === "json" ? `${json}\n` : formatTable(results));
    return results;
  } finally {
    dispose();
  }
}

function formatTable(results: Partial<Record<RankingMethod, MethodScores>>): string {
  const head =
    "| method | t2i R@1 | t2i R@5 | t2i R@10 | t2i medR | i2t R@1 | i2t R@5 | i2t R@10 | i2t medR | s |\n";
  const rule = "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  const rows = Object.entries(results).map(([method, r]) => {
    const f = (x: number) => x.toFixed(3);
    const t = r.textToImage;
    const i = r.imageToText;
    return `| ${method} | ${f(t["R@1"])} | ${f(t["R@5"])} | ${f(t["R@10"])} | ${t.medianRank} | ${f(i["R@1"])} | ${f(i["R@5"])} | ${f(i["R@10"])} | ${i.medianRank} | ${r.seconds.toFixed(1)} |\n`;
  });
  return head + rule + rows.join("");
}

export function register(program: Command): void {
  program
    .command("evaluate-retrieval")
    .description("Text-to-image and image-to-text Recall@1/5/10 and median rank per ranking method")
    .requiredOption("--dataset <spec>", "dataset file (e.g. ../shared/datasets/flickr8k/captions.tsv)")
    .option("--split <name>", "split to evaluate on", "val")
    .option("--images <dir>", "folder that relative image paths resolve against")
    .requiredOption(
      "--features <dir>",
      "feature cache folder (from `captionkit features`); nothing is re-encoded",
    )
    .option("--methods <list>", `comma-separated: ${RANKING_METHODS.join(",")}`, RANKING_METHODS.join(","))
    .option("--embedding-model <dir>", "joint-embedding model folder", defaultEmbeddingDir())
    .option("--model <dir>", "caption model folder (fts, fusion, generative); default: the shipped model")
    .option(
      "--generative-candidates <n>",
      "shortlist (embedding top) generative ranking re-scores per query",
      String(GENERATIVE_CANDIDATES),
    )
    .option("--captions-per-image <n>", "queries per image: the first N human captions (default all)")
    .option("--format <format>", "text (a Markdown table) or json", "text")
    .option("--out <file>", "also write the JSON results to this file")
    .action(async (options: EvaluateRetrievalOptions) => {
      await runEvaluateRetrieval(options, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    });
}
