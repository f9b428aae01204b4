import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import {
  type PhotoSearch,
  RANKING_METHODS,
  type RankingMethod,
  type SearchAnswer,
} from "../../search/types.js";
import { parseFlags } from "../flags.js";

const optionsSchema = z
  .object({
    db: z.string({ error: "--db is required: the index file made by `captionkit index`" }),
    k: z.coerce.number().int().min(1).max(1000).default(10),
    method: z.enum(RANKING_METHODS as [RankingMethod, ...RankingMethod[]]).optional(),
    format: z.enum(["json", "text"]).default("text"),
    queries: z.string().optional(),
    embeddingModel: z.string().optional(),
    includeWeak: z.boolean().default(false),
  })
  .strict();

export type SearchCommandOptions = z.input<typeof optionsSchema>;

/** The command minus argument parsing: one query, or one JSON line per query of a --queries file. */
export async function runSearch(
  query: string | undefined,
  rawOptions: SearchCommandOptions,
  write: (text: string) => void,
  warn: (text: string) => void = (text) => process.stderr.write(text),
): Promise<void> {
  const options = parseFlags(optionsSchema, rawOptions);
  if (!query && !options.queries)
    throw new Error('give a query (captionkit search "a dog on a beach" --db FILE) or --queries FILE');
  const { openPhotoSearch } = await import("../../search/photo-search.js");
  const photos = await openPhotoSearch(options.db, { embeddingModel: options.embeddingModel });
  try {
    const ask = async (q: string) => {
      const answer = await photos.search(q, {
        k: options.k,
        method: options.method,
        includeWeak: options.includeWeak,
      });
      // a search never switches method silently: stderr says so, and each --queries line has `fallback`
      if (answer.fallback)
        warn(
          `captionkit: ranked by ${answer.method}, not ${answer.fallback.from}: ${answer.fallback.reason}\n`,
        );
      return { query: q, ...answer };
    };
    if (options.queries) {
      for (const q of await readQueries(options.queries)) write(`${JSON.stringify(await ask(q))}\n`);
      return;
    }
    const answer = await ask(query!);
    if (options.format !== "json") {
      write(formatText(answer, photos));
      return;
    }
    // The single-query JSON stays the documented list, best first (each result says whether it is a
    // good match); an empty list is "no good match", and stderr says so, as it does for a fallback.
    if (answer.noGoodMatch) warn(`captionkit: no good match among ${photos.count()} indexed images\n`);
    write(`${JSON.stringify(answer.results, null, 2)}\n`);
  } finally {
    photos.close();
  }
}

async function readQueries(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => {
    throw new Error(`cannot read --queries file ${file}; give a text file with one query per line`);
  });
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

function formatText(answer: SearchAnswer, photos: PhotoSearch): string {
  const lines = answer.results.map(
    (r, i) => `${i + 1}. ${r.score.toFixed(4)}${r.good ? "" : " (weak)"}  ${r.image}  ${r.caption}\n`,
  );
  if (answer.noGoodMatch) {
    const hint =
      answer.results.length > 0 ? "the closest ones, all weak" : "--include-weak lists the closest ones";
    lines.unshift(`no good match among ${photos.count()} indexed images (${hint})\n`);
  }
  return lines.join("");
}

export function register(program: Command): void {
  program
    .command("search")
    .description("Find indexed photos by describing them")
    .argument("[query]", 'what to look for, e.g. "a dog running on the beach"')
    .requiredOption("--db <file>", "index made by `captionkit index`")
    .option("--k <n>", "number of results", "10")
    .option("--method <name>", `ranking: ${RANKING_METHODS.join(", ")} (default: the best on Flickr8k val)`)
    .option("--format <format>", "text or json", "text")
    .option("--queries <file>", "answer one query per line, printing one JSON line per query")
    .option("--embedding-model <dir>", "joint-embedding model folder (default: the one the index used)")
    .option("--include-weak", "also list results below the method's good-match threshold, marked weak", false)
    .action(async (query: string | undefined, options: SearchCommandOptions) => {
      await runSearch(query, options, (text) => process.stdout.write(text));
    });
}
