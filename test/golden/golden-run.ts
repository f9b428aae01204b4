/**
 * Captions a fixed set of generated images with a tiny seeded model of each decoder kind and with the
 * shipped default model, through the public front door only (so the same script ran on the code before
 * the middle of the pipeline was redesigned: `golden.json` is its output there).
 * Run: `npx tsx test/golden/golden-run.ts > test/golden/golden.json`.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { createDecoder, loadCaptioner, mobilenetV2Mid, SPECIAL_TOKENS, saveModel } from "../../src/index.js";
import { initBackend } from "../../src/tfjs/backend.js";

export interface GoldenCase {
  model: string;
  beam: number;
  mirror: boolean;
  results: Array<{
    caption: string;
    confidence: number;
    alternatives: Array<{ caption: string; confidence: number }>;
  }>;
}

const WORDS =
  "a dog cat man woman child runs jumps sits on in the grass water snow red blue ball beach".split(" ");

/** Eight 160x120 RGB images from a seeded LCG: blocks of colour and noise, different per image. */
export async function goldenImages(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < 8; i++) {
    const [w, h] = [160, 120];
    const pixels = Buffer.alloc(w * h * 3);
    const base = [next() * 255, next() * 255, next() * 255];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const block = ((x >> 5) + (y >> 5) * 7 + i) % 3;
        for (let c = 0; c < 3; c++)
          pixels[(y * w + x) * 3 + c] = Math.min(255, ((base[c] as number) + block * 60 + next() * 40) % 256);
      }
    out.push(
      await sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toBuffer(),
    );
  }
  return out;
}

async function tinyModel(kind: "transformer" | "show-attend-tell"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `captionkit-golden-${kind}-`));
  const [gridH, gridW, channels] = mobilenetV2Mid.gridShape;
  const config =
    kind === "transformer"
      ? { kind, layers: 1, modelDim: 16, heads: 2, feedForwardDim: 32, dropout: 0 }
      : { kind, embedDim: 12, hiddenDim: 16, attentionDim: 8, dropout: 0 };
  const decoder = createDecoder(
    config,
    {
      vocabSize: SPECIAL_TOKENS.length + WORDS.length,
      regions: gridH * gridW,
      featureDim: channels,
      pooledDim: mobilenetV2Mid.pooledSize,
    },
    7,
  );
  await saveModel(
    dir,
    decoder,
    {
      name: `golden-${kind}`,
      encoder: mobilenetV2Mid.name,
      vocabulary: { tokens: [...SPECIAL_TOKENS, ...WORDS], minCount: 1, maxLength: 12 },
      preprocessing: {
        size: mobilenetV2Mid.inputSize,
        normalization: mobilenetV2Mid.normalization,
        fit: "fill",
      },
    },
    { dtype: "float32" },
  );
  decoder.dispose();
  return dir;
}

export async function goldenCases(
  withDefault: boolean,
  runtime: "tfjs" | "onnx" = "tfjs",
): Promise<GoldenCase[]> {
  await initBackend("wasm");
  const images = (await goldenImages()).map((b) => new Uint8Array(b));
  const cases: GoldenCase[] = [];
  const runs: Array<{ model: string; dir?: string; beam: number; mirror: boolean }> = [];
  for (const kind of ["transformer", "show-attend-tell"] as const) {
    const dir = await tinyModel(kind);
    for (const beam of [1, 3])
      for (const mirror of [false, true]) runs.push({ model: `tiny-${kind}`, dir, beam, mirror });
  }
  if (withDefault)
    runs.push({ model: "default", beam: 3, mirror: true }, { model: "default", beam: 1, mirror: false });
  for (const run of runs) {
    const captioner = await loadCaptioner({
      ...(run.dir ? { modelDir: run.dir } : {}),
      mirror: run.mirror,
      runtime,
    });
    const results = await captioner.caption(images, { beam: run.beam });
    cases.push({
      model: run.model,
      beam: run.beam,
      mirror: run.mirror,
      results: results.map((r) => ({
        caption: r.caption,
        confidence: r.confidence,
        alternatives: r.alternatives,
      })),
    });
    captioner.dispose();
  }
  return cases;
}

if (process.argv[1]?.endsWith("golden-run.ts")) {
  const runtime = process.argv[2] === "onnx" ? "onnx" : "tfjs";
  process.stdout.write(`${JSON.stringify(await goldenCases(true, runtime), null, 1)}\n`);
}
