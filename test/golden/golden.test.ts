import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type GoldenCase, goldenCases } from "./golden-run.js";

// golden.json: golden-run.ts's output on the code before the middle of the pipeline was redesigned
// (loading, decoding, re-ranking, mirroring): the same images and models must caption the same.
const expected = JSON.parse(readFileSync(new URL("./golden.json", import.meta.url), "utf8")) as GoldenCase[];

describe.each([
  // tfjs is the reference runtime: exactly the captions of before
  { runtime: "tfjs" as const, tolerance: 1e-6 },
  // onnxruntime sums in another order: the same captions, confidences within float32 noise
  { runtime: "onnx" as const, tolerance: 1e-5 },
])(
  "golden captions on $runtime: tiny models of both decoder kinds and the shipped default model",
  ({ runtime, tolerance }) => {
    it(`give the same strings, and confidences within ${tolerance}, as before the redesign`, async () => {
      const actual = await goldenCases(true, runtime);
      expect(actual.map((c) => `${c.model} beam ${c.beam} mirror ${c.mirror}`)).toEqual(
        expected.map((c) => `${c.model} beam ${c.beam} mirror ${c.mirror}`),
      );
      actual.forEach((run, i) => {
        const want = expected[i] as GoldenCase;
        const label = `${run.model} beam ${run.beam} mirror ${run.mirror}`;
        run.results.forEach((result, image) => {
          const golden = want.results[image]!;
          expect(result.caption, `${label} image ${image}`).toBe(golden.caption);
          expect(Math.abs(result.confidence - golden.confidence), `${label} image ${image}`).toBeLessThan(
            tolerance,
          );
          expect(result.alternatives.map((a) => a.caption)).toEqual(
            golden.alternatives.map((a) => a.caption),
          );
          // The alternatives' confidences now come from the ranking (issue 19): never above the
          // caption ranked before them; golden.json has each caption's own geometric-mean probability.
          let previous = result.confidence;
          for (const a of result.alternatives) {
            expect(a.confidence).toBeLessThanOrEqual(previous);
            previous = a.confidence;
          }
        });
      });
    });
  },
);
