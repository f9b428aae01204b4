import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadCaptioner } from "../../src/captioner/captioner.js";

/* The shipped default model, loaded by name resolution alone, captions real Flickr8k val photos. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const flickr = path.resolve(repoRoot, "../shared/datasets/flickr8k");
const valList = path.join(flickr, "splits", "val.txt");
const hasModel = existsSync(path.join(repoRoot, "models", "default", "model.json"));
const present = existsSync(valList) && existsSync(path.join(flickr, "images"));
if (!present) console.log(`skipping the generation integration test: ${valList} and images/ are not there`);
else if (!hasModel) console.log("skipping the generation integration test: no model in models/default");

describe.skipIf(!present || !hasModel)("captioning Flickr8k val photos with the default model", () => {
  it("gives sentences without <unk>, ranked alternatives and per-word attention", async () => {
    const names = readFileSync(valList, "utf8").split("\n").filter(Boolean).slice(0, 4);
    const captioner = await loadCaptioner(); // models/default, found from the package root
    const images = names.map((name) => path.join(flickr, "images", name));
    const results = await captioner.caption(images, { beam: 3, alternatives: 2 });
    const again = await captioner.caption(images.slice(0, 1), { beam: 3, alternatives: 2 });
    captioner.dispose();
    // deterministic, and batching changes nothing but float rounding (onnxruntime picks its kernels
    // by batch size): the same sentences, confidences equal to 1e-6
    const [one, batched] = [again[0]!, results[0]!];
    expect({ ...one, confidence: 0, alternatives: [] }).toEqual({
      ...batched,
      confidence: 0,
      alternatives: [],
    });
    expect(one.confidence).toBeCloseTo(batched.confidence, 6);
    expect(one.alternatives.map((a) => a.caption)).toEqual(batched.alternatives.map((a) => a.caption));
    one.alternatives.forEach((a, i) => {
      expect(a.confidence).toBeCloseTo(batched.alternatives[i]!.confidence, 6);
    });
    for (const r of results) {
      console.log(`${r.caption} (${r.confidence.toFixed(2)})`);
      expect(r.caption).toMatch(/^[A-Z][^<>]*[^.]\.$/);
      expect(r.caption.split(" ").length).toBeGreaterThanOrEqual(2);
      expect(r.tokens).not.toContain("<unk>");
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
      for (const alt of r.alternatives) {
        expect(alt.caption).not.toBe(r.caption);
        expect(alt.confidence).toBeGreaterThan(0);
      }
      if (r.attention) {
        expect(r.attention).toHaveLength(r.tokens.length);
        const [h, w] = r.attentionGrid ?? [0, 0];
        for (const map of r.attention) expect(map).toHaveLength(h * w);
      }
    }
  });
});
