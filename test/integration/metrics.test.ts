import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ptbTokenize } from "../../src/data/ptb-tokenizer.js";
import { bleu, ciderD, rougeL, scoreCaptions } from "../../src/metrics/index.js";

// Conformance against the reference COCO evaluation's own numbers, kept in ../shared (read-only).
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const conformance = path.resolve(repoRoot, "../shared/conformance");
const metricsFile = path.join(conformance, "caption-metrics.json");
const clipscoreFile = path.join(conformance, "clipscore-example.json");

type Scores = Record<string, number>;
interface MetricsCase {
  name: string;
  candidates: Record<string, string>;
  references: Record<string, string[]>;
  raw_references: Record<string, string[]>;
  expected: { corpus: Scores; per_image: Record<string, Scores> };
}
interface ClipscoreExample {
  references: Record<string, string[]>;
  candidate_sets: Record<string, { candidates: Record<string, string>; expected: Scores }>;
}

const FAST = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D"];

function fastScores(c: MetricsCase) {
  const b = bleu(c.candidates, c.references);
  const r = rougeL(c.candidates, c.references);
  const d = ciderD(c.candidates, c.references);
  const image = (id: string): Scores => {
    const values = b.perImage.get(id)!;
    return {
      "BLEU-1": values[0]!,
      "BLEU-2": values[1]!,
      "BLEU-3": values[2]!,
      "BLEU-4": values[3]!,
      "ROUGE-L": r.perImage.get(id)!,
      "CIDEr-D": d.perImage.get(id)!,
    };
  };
  const corpus: Scores = {
    "BLEU-1": b.corpus[0]!,
    "BLEU-2": b.corpus[1]!,
    "BLEU-3": b.corpus[2]!,
    "BLEU-4": b.corpus[3]!,
    "ROUGE-L": r.corpus,
    "CIDEr-D": d.corpus,
  };
  return { corpus, image };
}

if (!existsSync(metricsFile) || !existsSync(clipscoreFile)) {
  console.warn(
    `skipping metrics conformance: ${conformance} not found (it lives in ../shared next to the repo)`,
  );
}

describe.skipIf(!existsSync(metricsFile))(
  "caption-metrics.json conformance (1e-6, corpus and per image)",
  () => {
    const cases = existsSync(metricsFile)
      ? (JSON.parse(readFileSync(metricsFile, "utf8")) as { cases: MetricsCase[] }).cases
      : [];

    it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
      const { corpus, image } = fastScores(c);
      for (const metric of FAST)
        expect(Math.abs(corpus[metric]! - c.expected.corpus[metric]!)).toBeLessThan(1e-6);
      const ids = Object.keys(c.expected.per_image);
      expect(ids.length).toBe(Object.keys(c.candidates).length);
      for (const id of ids) {
        const actual = image(id);
        for (const metric of FAST) {
          expect(
            Math.abs(actual[metric]! - c.expected.per_image[id]![metric]!),
            `${id} ${metric}`,
          ).toBeLessThan(1e-6);
        }
      }
    });

    it("ptbTokenize turns every raw reference into the reference tokenizer's output", () => {
      let total = 0;
      const mismatches: string[] = [];
      for (const c of cases) {
        for (const [id, raws] of Object.entries(c.raw_references)) {
          raws.forEach((raw, i) => {
            total++;
            const tokenized = ptbTokenize(raw).join(" ");
            if (tokenized !== c.references[id]![i]) mismatches.push(`${raw} -> ${tokenized}`);
          });
        }
      }
      expect(total).toBeGreaterThan(3000);
      expect(mismatches).toEqual([]);
    });
  },
);

describe.skipIf(!existsSync(clipscoreFile))("clipscore-example.json from raw text (4 decimals)", () => {
  const example: ClipscoreExample = existsSync(clipscoreFile)
    ? JSON.parse(readFileSync(clipscoreFile, "utf8"))
    : { references: {}, candidate_sets: {} };

  it.each(Object.keys(example.candidate_sets))(
    "%s candidates: BLEU, ROUGE-L, CIDEr-D exact; METEOR close",
    async (set) => {
      const { candidates, expected } = example.candidate_sets[set]!;
      const report = await scoreCaptions(candidates, example.references);
      for (const metric of FAST) {
        expect(Number(report.corpus[metric as keyof typeof report.corpus]!.toFixed(4)), metric).toBe(
          expected[metric],
        );
      }
      // No paraphrase table and an approximate function-word list: measured gap 0.012 (docs/metrics.md).
      expect(Math.abs(report.corpus.METEOR! - expected.METEOR!)).toBeLessThan(0.02);
    },
  );
});
