import { createEncoder } from "../encoders/registry.js";
import type { Encoder } from "../encoders/types.js";
import { ImageError } from "../image/errors.js";
import { imageLength, normalizeInto, resizedRgb } from "../image/preprocess.js";
import type { FeatureCaptioner } from "./caption-model.js";
import type { LoadedEmbedding } from "./models.js";
import type { ImageFeatures, IndexPipeline, PipelineInput, ProcessedImage } from "./pipeline.js";

/**
 * The real index pipeline: each encoder part that the caption model or the joint embedding needs runs
 * once per image; the caption model captions from its encoder's features; the grid of that encoder
 * is kept for generative ranking, the pooled vector of the embedding's encoder for the embedding.
 */
export class DefaultPipeline implements IndexPipeline {
  readonly captionModel: string;
  readonly embeddingModel: string | undefined;
  readonly captionModelDir: string;

  private parts: Map<string, Encoder> | undefined;

  constructor(
    private readonly captioner: FeatureCaptioner,
    private readonly embedding: LoadedEmbedding | undefined,
    /** Encoder factory (tests pass fakes). */
    private readonly makeEncoder: (name: string) => Promise<Encoder> = (name) => createEncoder(name),
  ) {
    this.captionModel = captioner.name;
    this.captionModelDir = captioner.dir;
    this.embeddingModel = embedding?.id;
  }

  /** Encoders load on first use: a re-run with nothing new to index never pays for them. */
  private async encoders(): Promise<Map<string, Encoder>> {
    if (this.parts) return this.parts;
    const names = [
      ...new Set([
        ...splitEncoder(this.captioner.encoder),
        ...splitEncoder(this.embedding?.model.config.encoder),
      ]),
    ];
    const parts = new Map<string, Encoder>();
    try {
      for (const name of names) parts.set(name, await this.makeEncoder(name));
    } catch (error) {
      for (const e of parts.values()) e.dispose();
      throw error;
    }
    this.parts = parts;
    return parts;
  }

  async process(inputs: PipelineInput[]): Promise<(ProcessedImage | Error)[]> {
    const encoders = await this.encoders();
    const sizes = [...new Set([...encoders.values()].map((e) => e.inputSize))];
    const ok: number[] = [];
    const errors: (Error | undefined)[] = inputs.map(() => undefined);
    // one decode per image and input size (parts at 224 share one); each part normalises it its own way
    const pixels = await Promise.all(
      inputs.map(async (input, i) => {
        try {
          const bySize = new Map<number, Buffer>();
          for (const size of sizes)
            bySize.set(
              size,
              await resizedRgb(input.bytes, { size, normalization: ZERO_ONE, name: input.path }),
            );
          ok.push(i);
          return bySize;
        } catch (error) {
          if (!(error instanceof ImageError)) throw error;
          errors[i] = error;
          return undefined;
        }
      }),
    );
    ok.sort((a, b) => a - b);
    const outputs = new Map<string, { grid: Float32Array; pooled: Float32Array; encoder: Encoder }>();
    if (ok.length > 0) {
      for (const [name, encoder] of encoders) {
        const per = imageLength(encoder.inputSize);
        const batch = new Float32Array(per * ok.length);
        ok.forEach((i, row) => {
          normalizeInto(pixels[i]!.get(encoder.inputSize)!, encoder.normalization, batch, row * per);
        });
        const out = await encoder.encode(batch, ok.length);
        outputs.set(name, { ...out, encoder });
      }
    }
    const captionFeatures = ok.map((_, row) => this.assemble(this.captioner.encoder, outputs, row, true));
    const captions = ok.length > 0 ? await this.captioner.caption(captionFeatures) : [];
    const results: (ProcessedImage | Error)[] = inputs.map((_, i) => errors[i] ?? new Error("not processed"));
    ok.forEach((i, row) => {
      const features: ImageFeatures[] = [captionFeatures[row]!];
      const embeddingEncoder = this.embedding?.model.config.encoder;
      if (embeddingEncoder && embeddingEncoder !== this.captioner.encoder) {
        features.push(this.assemble(embeddingEncoder, outputs, row, false));
      }
      results[i] = { caption: captions[row]!.caption, confidence: captions[row]!.confidence, features };
    });
    return results;
  }

  embed(features: ImageFeatures[]): Float32Array | undefined {
    if (!this.embedding) return undefined;
    const f = features.find((x) => x.encoder === this.embedding!.model.config.encoder);
    return f ? this.embedding.model.searchVector(f.pooled) : undefined;
  }

  /** Features of a (possibly "+"-joined) encoder for one image: parts' grids side by side per region. */
  private assemble(
    name: string,
    outputs: Map<string, { grid: Float32Array; pooled: Float32Array; encoder: Encoder }>,
    row: number,
    withGrid: boolean,
  ): ImageFeatures {
    const parts = splitEncoder(name).map((p) => outputs.get(p)!);
    const [h, w] = parts[0]!.encoder.gridShape;
    const regions = h * w;
    const channels = parts.reduce((s, p) => s + p.encoder.gridShape[2], 0);
    const pooled = new Float32Array(parts.reduce((s, p) => s + p.encoder.pooledSize, 0));
    const grid = withGrid ? new Float32Array(regions * channels) : undefined;
    let pooledOffset = 0;
    let channelOffset = 0;
    for (const p of parts) {
      const size = p.encoder.pooledSize;
      pooled.set(p.pooled.subarray(row * size, (row + 1) * size), pooledOffset);
      pooledOffset += size;
      const c = p.encoder.gridShape[2];
      if (grid) {
        for (let r = 0; r < regions; r++) {
          const from = (row * regions + r) * c;
          grid.set(p.grid.subarray(from, from + c), r * channels + channelOffset);
        }
      }
      channelOffset += c;
    }
    return grid ? { encoder: name, pooled, grid, regions } : { encoder: name, pooled };
  }

  dispose(): void {
    for (const e of this.parts?.values() ?? []) e.dispose();
    this.captioner.dispose();
  }
}

const ZERO_ONE = { mean: [0, 0, 0], std: [1, 1, 1] } as {
  mean: [number, number, number];
  std: [number, number, number];
};

function splitEncoder(name: string | undefined): string[] {
  if (!name) return [];
  return name.startsWith("onnx:") ? [name] : name.split("+");
}
