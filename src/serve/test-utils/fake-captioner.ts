import type { Captioner, CaptionOptions, CaptionResult } from "../../generation/types.js";
import { decodeRgb, probeImage } from "../../image/decode.js";

export interface FakeCaptioner extends Captioner {
  /** Sizes of the arrays passed to caption(), in call order. */
  readonly calls: number[];
  disposed: boolean;
}

const COLOURS: Array<[string, [number, number, number]]> = [
  ["red", [255, 0, 0]],
  ["green", [0, 160, 0]],
  ["blue", [0, 0, 255]],
  ["white", [255, 255, 255]],
  ["black", [0, 0, 0]],
];

/**
 * Captions an image by its mean colour, after really decoding it (so bad images fail as they would with a
 * trained model). Attention peaks on the region with the brightest pixels, on a 7x7 grid.
 */
export function fakeCaptioner(
  options: { delayMs?: number; attention?: boolean; confidence?: number } = {},
): FakeCaptioner {
  const calls: number[] = [];
  const fake: FakeCaptioner = {
    modelName: "fake-colour-v1",
    calls,
    disposed: false,
    async caption(
      images: ReadonlyArray<string | Uint8Array>,
      captionOptions: CaptionOptions = {},
    ): Promise<CaptionResult[]> {
      calls.push(images.length);
      const decoded = [];
      const limit = captionOptions.maxPixels === undefined ? {} : { maxPixels: captionOptions.maxPixels };
      for (const image of images) decoded.push(await decodeRgb(await probeImage(image, limit), 7));
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      return decoded.map(({ data, width, height }) => {
        const mean = [0, 0, 0];
        let brightest = 0;
        let brightestValue = -1;
        for (let p = 0; p < width * height; p++) {
          const v = data[p * 3]! + data[p * 3 + 1]! + data[p * 3 + 2]!;
          if (v > brightestValue) {
            brightestValue = v;
            brightest = p;
          }
          for (let c = 0; c < 3; c++) mean[c]! += data[p * 3 + c]! / (width * height);
        }
        const ranked = COLOURS.map(([name, rgb]) => ({
          name,
          distance: Math.hypot(rgb[0] - mean[0]!, rgb[1] - mean[1]!, rgb[2] - mean[2]!),
        })).sort((a, b) => a.distance - b.distance);
        const tokens = ["a", ranked[0]!.name, "square"];
        const gridH = 7;
        const gridW = 7;
        const row = Math.min(gridH - 1, Math.floor(((Math.floor(brightest / width) + 0.5) / height) * gridH));
        const col = Math.min(gridW - 1, Math.floor((((brightest % width) + 0.5) / width) * gridW));
        const attention = tokens.map(() => {
          const weights = new Array<number>(gridH * gridW).fill(0.5 / (gridH * gridW - 1));
          weights[row * gridW + col] = 0.5;
          return weights;
        });
        const confidence = options.confidence ?? Math.max(0.05, 1 - ranked[0]!.distance / 442);
        return {
          caption: `A ${ranked[0]!.name} square.`,
          confidence,
          alternatives: ranked.slice(1, 1 + (captionOptions.alternatives ?? 2)).map((r, i) => ({
            caption: `A ${r.name} square.`,
            confidence: confidence / (i + 2),
          })),
          tokens,
          ...(options.attention === false
            ? {}
            : { attention, attentionGrid: [gridH, gridW] as [number, number] }),
        };
      });
    },
    dispose() {
      fake.disposed = true;
    },
  };
  return fake;
}
