import { type EncodedBatch, type Encoder, isSharedRunEncoder, type Normalization } from "./types.js";

/**
 * Several encoders run on the same image, grids concatenated along channels and pooled vectors
 * end to end. The parts must agree on input size, normalization and grid height/width, because the
 * caller preprocesses each image once for the whole encoder. A part may appear more than once (an
 * ensemble whose members share an encoder): the same instance then runs once per batch. Parts that are
 * cuts of one graph sharing a session (SharedRunEncoder) are all computed by one run of that graph.
 */
export class ConcatEncoder implements Encoder {
  readonly name: string;
  readonly inputSize: number;
  readonly normalization: Normalization;
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;

  constructor(private readonly parts: Encoder[]) {
    if (parts.length < 2) throw new Error("a concatenated encoder needs at least two parts");
    const [first] = parts as [Encoder, ...Encoder[]];
    for (const p of parts) {
      if (p.inputSize !== first.inputSize) {
        throw new Error(`cannot concatenate ${first.name} and ${p.name}: input sizes differ`);
      }
      if (p.gridShape[0] !== first.gridShape[0] || p.gridShape[1] !== first.gridShape[1]) {
        throw new Error(`cannot concatenate ${first.name} and ${p.name}: grid sizes differ`);
      }
    }
    this.name = parts.map((p) => p.name).join("+");
    this.inputSize = first.inputSize;
    // Each part gets its own normalization: the input is converted per part (see encode).
    this.normalization = first.normalization;
    this.gridShape = [first.gridShape[0], first.gridShape[1], parts.reduce((s, p) => s + p.gridShape[2], 0)];
    this.pooledSize = parts.reduce((s, p) => s + p.pooledSize, 0);
  }

  async encode(images: Float32Array, count: number): Promise<EncodedBatch> {
    const regions = this.gridShape[0] * this.gridShape[1];
    const channels = this.gridShape[2];
    const grid = new Float32Array(count * regions * channels);
    const pooled = new Float32Array(count * this.pooledSize);
    let channelOffset = 0;
    let pooledOffset = 0;
    const encoded = new Map<Encoder, EncodedBatch>();
    for (const part of this.parts) {
      let out = encoded.get(part);
      if (!out) {
        const input = renormalize(images, this.normalization, part.normalization);
        if (isSharedRunEncoder(part)) {
          for (const [encoder, batch] of await part.encodeShared(input, count)) encoded.set(encoder, batch);
          out = encoded.get(part) as EncodedBatch;
        } else {
          out = await part.encode(input, count);
          encoded.set(part, out);
        }
      }
      const c = part.gridShape[2];
      // grid rows are [image, region]; each part fills its channel slice of every row
      for (let row = 0; row < count * regions; row++) {
        grid.set(out.grid.subarray(row * c, (row + 1) * c), row * channels + channelOffset);
      }
      for (let i = 0; i < count; i++) {
        pooled.set(
          out.pooled.subarray(i * part.pooledSize, (i + 1) * part.pooledSize),
          i * this.pooledSize + pooledOffset,
        );
      }
      channelOffset += c;
      pooledOffset += part.pooledSize;
    }
    return { grid, pooled, count };
  }

  dispose(): void {
    for (const p of new Set(this.parts)) p.dispose();
  }
}

function sameNormalization(a: Normalization, b: Normalization): boolean {
  return a.mean.every((m, i) => m === b.mean[i]) && a.std.every((s, i) => s === b.std[i]);
}

/** Converts NHWC pixels normalized with `from` into pixels normalized with `to` (exact affine map). */
export function renormalize(images: Float32Array, from: Normalization, to: Normalization): Float32Array {
  if (sameNormalization(from, to)) return images;
  const out = new Float32Array(images.length);
  const scale = [0, 1, 2].map((c) => from.std[c]! / to.std[c]!);
  const shift = [0, 1, 2].map((c) => (from.mean[c]! - to.mean[c]!) / to.std[c]!);
  for (let i = 0; i < images.length; i++) {
    const c = i % 3;
    out[i] = images[i]! * scale[c]! + shift[c]!;
  }
  return out;
}
