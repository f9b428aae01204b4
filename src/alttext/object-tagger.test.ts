import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { syntheticPixels } from "../encoders/test-utils/contract.js";
import { tf } from "../tfjs/backend.js";
import { COCO_LABELS, iou, ObjectTagger } from "./object-tagger.js";

describe("ObjectTagger", () => {
  it("computes IoU of [x, y, w, h] boxes", () => {
    expect(iou([0, 0, 1, 1], [0, 0, 1, 1])).toBe(1);
    expect(iou([0, 0, 1, 1], [2, 2, 1, 1])).toBe(0);
    expect(iou([0, 0, 2, 1], [1, 0, 2, 1])).toBeCloseTo(1 / 3, 10);
  });

  it("returns well-formed detections, best first, without leaking tensors", async () => {
    expect(COCO_LABELS).toHaveLength(80);
    const tagger = await ObjectTagger.create();
    try {
      const x = syntheticPixels(512, 1); // 0..255, the tagger's own normalisation
      await tagger.tag(x, { minScore: 0 });
      const before = tf.memory().numTensors;
      const objects = await tagger.tag(x, { minScore: 0, maxObjects: 5 });
      expect(tf.memory().numTensors).toBe(before);
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.length).toBeLessThanOrEqual(5);
      for (const o of objects) {
        expect(o.label).toBe(COCO_LABELS[o.class]);
        expect(o.box.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
      const scores = objects.map((o) => o.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      await expect(tagger.tag(new Float32Array(3))).rejects.toThrow(/expected 512x512x3/);
      // tagImage = preprocess at 512 with the tagger's normalisation, then tag
      const png = await sharp(Buffer.from(x.map((v) => Math.round(v))), {
        raw: { width: 512, height: 512, channels: 3 },
      })
        .png()
        .toBuffer();
      expect(await tagger.tagImage(png, { minScore: 0, maxObjects: 5 })).toEqual(objects);
      await expect(tagger.tagImage(Buffer.from("not an image"))).rejects.toMatchObject({
        code: "not_an_image",
      });
    } finally {
      tagger.dispose();
    }
  });
});
