import { readFile } from "node:fs/promises";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import { z } from "zod";
import { loadOnnxRuntime, type OnnxRuntime } from "../core/onnxruntime.js";
import type { EncodedBatch, Encoder, Normalization } from "./types.js";

/** The JSON file that sits next to the .onnx model and says how to feed it and read it. */
export const ONNX_CONFIG_FILE = "encoder.json";

const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const onnxEncoderConfigSchema = z
  .object({
    /** The .onnx file, relative to the folder. */
    model: z.string().default("model.onnx"),
    /** Square input side in pixels. */
    inputSize: z.number().int().positive(),
    /** value = (pixel / 255 - mean[c]) / std[c], RGB order. */
    normalization: z.object({ mean: rgb, std: rgb }).strict(),
    /** Layout of the image input tensor. */
    layout: z.enum(["NCHW", "NHWC"]).default("NCHW"),
    /** Name of the image input; default: the model's first input. */
    inputName: z.string().optional(),
    grid: z
      .object({
        output: z.string(),
        /**
         * NCHW / NHWC: a conv feature map. NLC: a token sequence [N, L, C] (ViT, CLIP) whose last
         * h*w tokens form a square grid after `skipTokens` leading tokens (the CLS token).
         */
        layout: z.enum(["NCHW", "NHWC", "NLC"]),
        skipTokens: z.number().int().nonnegative().default(0),
      })
      .strict(),
    /** Output holding the [N, C] pooled vector; absent = spatial mean of the grid. */
    pooled: z.object({ output: z.string() }).strict().optional(),
    /** Largest batch per run; 1 for graphs exported with a fixed batch. */
    maxBatch: z.number().int().positive().default(8),
  })
  .strict();

export type OnnxEncoderConfig = z.infer<typeof onnxEncoderConfigSchema>;

/** An Encoder over a user's ONNX model, run by onnxruntime-node on the CPU. */
export class OnnxEncoder implements Encoder {
  readonly inputSize: number;
  readonly normalization: Normalization;
  gridShape: readonly [number, number, number] = [0, 0, 0];
  pooledSize = 0;
  private readonly inputName: string;

  private constructor(
    readonly name: string,
    private readonly config: OnnxEncoderConfig,
    private session: ort.InferenceSession | undefined,
    private readonly runtime: OnnxRuntime,
  ) {
    this.inputSize = config.inputSize;
    this.normalization = config.normalization;
    const inputName = config.inputName ?? session?.inputNames[0];
    if (!inputName || !session?.inputNames.includes(inputName)) {
      throw new Error(
        `${name}: the model has no input "${inputName}" (inputs: ${session?.inputNames.join(", ")})`,
      );
    }
    this.inputName = inputName;
    for (const out of [config.grid.output, config.pooled?.output]) {
      if (out && !session.outputNames.includes(out)) {
        throw new Error(
          `${name}: the model has no output "${out}" (outputs: ${session.outputNames.join(", ")})`,
        );
      }
    }
  }

  /** Opens `<folder>/encoder.json` and its model; shapes are measured with one blank image. */
  static async create(folder: string, options: { threads?: number } = {}): Promise<OnnxEncoder> {
    const name = `onnx:${folder}`;
    const configPath = path.join(folder, ONNX_CONFIG_FILE);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(configPath, "utf8"));
    } catch (err) {
      throw new Error(`${name}: cannot read ${configPath} (${(err as Error).message}); see docs/encoders.md`);
    }
    const parsed = onnxEncoderConfigSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${configPath}: ${z.prettifyError(parsed.error)}`);
    const config = parsed.data;
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(path.join(folder, config.model), {
      intraOpNumThreads: options.threads ?? 0,
    });
    const encoder = new OnnxEncoder(name, config, session, ort);
    const probe = await encoder.run(new Float32Array(config.inputSize * config.inputSize * 3), 1);
    encoder.gridShape = probe.gridShape;
    encoder.pooledSize = probe.pooledSize;
    return encoder;
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const per = this.inputSize * this.inputSize * 3;
    if (images.length !== count * per) {
      throw new Error(
        `${this.name}: expected ${count}x${this.inputSize}x${this.inputSize}x3 floats, got ${images.length}`,
      );
    }
    const [gh, gw, gc] = this.gridShape;
    const grid = new Float32Array(count * gh * gw * gc);
    const pooled = new Float32Array(count * this.pooledSize);
    for (let start = 0; start < count; start += this.config.maxBatch) {
      const n = Math.min(this.config.maxBatch, count - start);
      const out = await this.run(images.subarray(start * per, (start + n) * per), n);
      grid.set(out.grid, start * gh * gw * gc);
      pooled.set(out.pooled, start * this.pooledSize);
    }
    return { grid, pooled, count };
  }

  private async run(
    images: Float32Array,
    n: number,
  ): Promise<{
    grid: Float32Array;
    pooled: Float32Array;
    gridShape: [number, number, number];
    pooledSize: number;
  }> {
    const session = this.session;
    if (!session) throw new Error(`${this.name} was disposed`);
    const s = this.inputSize;
    const data = this.config.layout === "NCHW" ? nhwcToNchw(images, n, s, s, 3) : images;
    const dims = this.config.layout === "NCHW" ? [n, 3, s, s] : [n, s, s, 3];
    const fetches = [this.config.grid.output, ...(this.config.pooled ? [this.config.pooled.output] : [])];
    const results = await session.run(
      { [this.inputName]: new this.runtime.Tensor("float32", data, dims) },
      fetches,
    );
    try {
      const gridT = results[this.config.grid.output]!;
      const { grid, shape } = toNhwcGrid(gridT.data as Float32Array, gridT.dims, this.config.grid);
      const [h, w, c] = shape;
      let pooled: Float32Array;
      if (this.config.pooled) {
        const p = results[this.config.pooled.output]!;
        pooled = Float32Array.from(p.data as Float32Array);
        if (pooled.length % n !== 0) throw new Error(`${this.name}: pooled output has a batch mismatch`);
      } else {
        pooled = spatialMean(grid, n, h * w, c);
      }
      return { grid, pooled, gridShape: shape, pooledSize: pooled.length / n };
    } finally {
      for (const t of Object.values(results)) t.dispose();
    }
  }

  dispose(): void {
    void this.session?.release();
    this.session = undefined;
  }
}

/** [n, h, w, c] -> [n, c, h, w] */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++) {
          out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch]!;
        }
  return out;
}

/** Any supported grid layout -> [n, h, w, c] (the EncodedBatch layout). */
function toNhwcGrid(
  data: Float32Array,
  dims: readonly number[],
  spec: OnnxEncoderConfig["grid"],
): { grid: Float32Array; shape: [number, number, number] } {
  if (spec.layout === "NHWC") {
    const [, h, w, c] = dims as [number, number, number, number];
    return { grid: Float32Array.from(data), shape: [h, w, c] };
  }
  if (spec.layout === "NCHW") {
    const [n, c, h, w] = dims as [number, number, number, number];
    const out = new Float32Array(data.length);
    for (let b = 0; b < n; b++)
      for (let ch = 0; ch < c; ch++)
        for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + ch] = data[(b * c + ch) * h * w + p]!;
    return { grid: out, shape: [h, w, c] };
  }
  const [n, l, c] = dims as [number, number, number];
  const regions = l - spec.skipTokens;
  const side = Math.round(Math.sqrt(regions));
  if (side * side !== regions) {
    throw new Error(`grid output has ${regions} tokens after skipping ${spec.skipTokens}: not a square grid`);
  }
  const out = new Float32Array(n * regions * c);
  for (let b = 0; b < n; b++) {
    out.set(data.subarray((b * l + spec.skipTokens) * c, (b + 1) * l * c), b * regions * c);
  }
  return { grid: out, shape: [side, side, c] };
}

/** [n, regions, c] -> [n, c] mean over regions. */
export function spatialMean(grid: Float32Array, n: number, regions: number, c: number): Float32Array {
  const out = new Float32Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < regions; r++) {
      for (let ch = 0; ch < c; ch++) out[b * c + ch]! += grid[(b * regions + r) * c + ch]!;
    }
    for (let ch = 0; ch < c; ch++) out[b * c + ch]! /= regions;
  }
  return out;
}
