import type { FeatureReader } from "./types.js";

/**
 * Two or more stores of the same images read as one, the same way the `a+b` encoder concatenates:
 * grids side by side along channels (same h x w), pooled vectors end to end. Lets training use
 * `mobilenet_v2_mid+centernet_224` features from the two single-encoder stores without re-encoding.
 * Ids are those present in every part, in the first part's order.
 */
export class ConcatFeatureReader implements FeatureReader {
  readonly encoder: string;
  readonly gridShape: readonly [number, number, number];
  readonly pooledSize: number;
  readonly ids: readonly string[];

  constructor(private readonly parts: FeatureReader[]) {
    if (parts.length < 2) throw new Error("concatenating feature stores needs at least two");
    const [first] = parts as [FeatureReader, ...FeatureReader[]];
    for (const p of parts) {
      if (p.gridShape[0] !== first.gridShape[0] || p.gridShape[1] !== first.gridShape[1]) {
        throw new Error(`cannot concatenate ${first.encoder} and ${p.encoder}: grid sizes differ`);
      }
    }
    this.encoder = parts.map((p) => p.encoder).join("+");
    this.gridShape = [first.gridShape[0], first.gridShape[1], parts.reduce((s, p) => s + p.gridShape[2], 0)];
    this.pooledSize = parts.reduce((s, p) => s + p.pooledSize, 0);
    const sets = parts.slice(1).map((p) => new Set(p.ids));
    this.ids = first.ids.filter((id) => sets.every((s) => s.has(id)));
  }

  viewsOf(id: string): number {
    return Math.min(...this.parts.map((p) => p.viewsOf(id)));
  }

  read(id: string, view = 0): { grid: Float32Array; pooled: Float32Array } {
    const regions = this.gridShape[0] * this.gridShape[1];
    const channels = this.gridShape[2];
    const grid = new Float32Array(regions * channels);
    const pooled = new Float32Array(this.pooledSize);
    let channelOffset = 0;
    let pooledOffset = 0;
    for (const part of this.parts) {
      const got = part.read(id, view);
      const c = part.gridShape[2];
      // [regions, c] rows land in this part's channel slice of each region
      for (let r = 0; r < regions; r++)
        grid.set(got.grid.subarray(r * c, (r + 1) * c), r * channels + channelOffset);
      pooled.set(got.pooled, pooledOffset);
      channelOffset += c;
      pooledOffset += part.pooledSize;
    }
    return { grid, pooled };
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}

/** Several caches of the same images as one reader (a single cache as itself). */
export function concatFeatureReaders(readers: readonly FeatureReader[]): FeatureReader {
  if (readers.length === 1) return readers[0] as FeatureReader;
  return new ConcatFeatureReader([...readers]);
}

/** In-memory features (synthetic data, tests, benchmarks): one or more views per image. */
export function memoryFeatureReader(
  encoder: string,
  gridShape: readonly [number, number, number],
  pooledSize: number,
  features: ReadonlyMap<string, ReadonlyArray<{ grid: Float32Array; pooled: Float32Array }>>,
): FeatureReader {
  return {
    encoder,
    gridShape,
    pooledSize,
    ids: [...features.keys()],
    viewsOf: (id) => features.get(id)?.length ?? 0,
    read(id, view = 0) {
      const entry = features.get(id)?.[view];
      if (!entry) throw new Error(`no features for ${id} view ${view}`);
      return entry;
    },
    close() {},
  };
}
