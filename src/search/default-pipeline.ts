import type { ImageCaptioner } from "../captioner/captioner.js";
import { createEncoder } from "../encoders/registry.js";
import type { Encoder } from "../encoders/types.js";
import { ImageError } from "../image/errors.js";
import { UNIT_RANGE } from "../image/normalization.js";
import { imageLength, normalizeInto, resizedRgb } from "../image/preprocess.js";
import { embedFeatures, type LoadedEmbedding } from "./models.js";
import type { ImageFeatures, IndexPipeline, PipelineInput, ProcessedImage } from "./pipeline.js";

/** Beam width for index captions: the CLI's default, so `index` and `caption` agree. */
const INDEX_BEAM = 3;

/**
 * The real index pipeline: the image captioner captions each image exactly as `captionkit caption`
 * does (same preprocessing, encoder, mirroring and re-ranking), and its plain view's features are kept
 * for generative ranking; each encoder part the joint embedding needs runs once per image for the
 * embedding's pooled vector.
 */
export class DefaultPipeline implements IndexPipeline {
  readonly captionModel: string;
  readonly embeddingModel: string | undefined;
  readonly captionModelDir: string;
  /** sha256 of the caption model's weights (a queue worker checks it against the producer's). */
  readonly captionModelDigest: string;

  private parts: Promise<Map<string, Encoder>> | undefined;

  constructor(
    readonly captioner: ImageCaptioner,
    private readonly embedding: LoadedEmbedding | undefined,
    /** Encoder factory (tests pass fakes). */
    private readonly makeEncoder: (name: string) => Promise<Encoder> = (name) => createEncoder(name),
  ) {
    this.captionModel = captioner.model.info.name;
    this.captionModelDir = captioner.model.dir;
    this.captionModelDigest = captioner.model.info.weightsDigest;
    this.embeddingModel = embedding?.id;
  }

  /** Encoders load on first use: a re-run with nothing new to index never pays for them. */
  private encoders(): Promise<Map<string, Encoder>> {
    // one promise, so concurrent first calls (a queue worker taking several jobs) load them once
    this.parts ??= this.loadEncoders();
    return this.parts;
  }

  private async loadEncoders(): Promise<Map<string, Encoder>> {
    const names = [...new Set(splitEncoder(this.embedding?.model.config.encoder))];
    const parts = new Map<string, Encoder>();
    try {
      for (const name of names) parts.set(name, await this.makeEncoder(name));
    } catch (error) {
      for (const e of parts.values()) e.dispose();
      this.parts = undefined;
      throw error;
    }
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
              await resizedRgb(input.bytes, { size, normalization: UNIT_RANGE, name: input.path }),
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
    const captioned = await this.captionBatch(inputs);
    const results: (ProcessedImage | Error)[] = inputs.map((_, i) => errors[i] ?? new Error("not processed"));
    const embeddingEncoder = this.embedding?.model.config.encoder;
    ok.forEach((i, row) => {
      const caption = captioned[i];
      if (!caption || caption instanceof Error) {
        results[i] = caption ?? new Error("not captioned");
        return;
      }
      const features = [caption.features];
      if (embeddingEncoder) features.push(this.assemble(embeddingEncoder, outputs, row, false));
      results[i] = { caption: caption.caption, confidence: caption.confidence, features };
    });
    return results;
  }

  /** Captions through the image captioner; the plain view's features are what generative search reads. */
  private async captionBatch(
    inputs: PipelineInput[],
  ): Promise<Array<{ caption: string; confidence: number; features: ImageFeatures } | Error>> {
    const { errors, views } = await this.captioner.encodeViews(
      inputs.map((input) => input.bytes),
      this.captioner.mirror ? 2 : 1,
    );
    const [plain] = views;
    const results = plain ? this.captioner.model.caption(views, { beam: INDEX_BEAM, alternatives: 0 }) : [];
    const { regions, featureDim, pooledDim } = this.captioner.model.runtime.shape;
    const encoder = this.captioner.model.info.encoder;
    let row = 0;
    return inputs.map((_, i) => {
      const error = errors[i];
      if (error) return error;
      const r = row++;
      const width = regions * featureDim;
      const features: ImageFeatures = {
        encoder,
        pooled: plain!.pooled.slice(r * pooledDim, (r + 1) * pooledDim),
        grid: plain!.grid.slice(r * width, (r + 1) * width),
        regions,
      };
      return { caption: results[r]!.caption, confidence: results[r]!.confidence, features };
    });
  }

  embed(features: ImageFeatures[]): Float32Array | undefined {
    return embedFeatures(this.embedding, features);
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
    void this.parts?.then(
      (parts) => {
        for (const e of parts.values()) e.dispose();
      },
      () => {},
    );
    this.captioner.dispose();
  }
}

function splitEncoder(name: string | undefined): string[] {
  if (!name) return [];
  return name.startsWith("onnx:") ? [name] : name.split("+");
}
