import type { FeatureReader } from "../features/types.js";

/**
 * Several caches of the same images seen as one: grids concatenated along channels, pooled vectors
 * end to end, encoder ids joined with "+" (the naming DESIGN.md uses for concatenated encoders).
 */
export function concatFeatureReaders(readers: readonly FeatureReader[]): FeatureReader {
  if (readers.length === 1) return readers[0]!;
  const [first] = readers;
  if (!first) throw new Error("concatFeatureReaders needs at least one reader");
  const [gridH, gridW] = first.gridShape;
  for (const reader of readers) {
    if (reader.gridShape[0] !== gridH || reader.gridShape[1] !== gridW) {
      throw new Error(
        `feature caches ${first.encoder} and ${reader.encoder} have different grids; only equal grids concatenate`,
      );
    }
  }
  const channels = readers.map((reader) => reader.gridShape[2]);
  const totalChannels = channels.reduce((a, b) => a + b, 0);
  const pooledSize = readers.reduce((sum, reader) => sum + reader.pooledSize, 0);
  const regions = gridH * gridW;
  const common = new Set(first.ids);
  for (const reader of readers.slice(1)) {
    const ids = new Set(reader.ids);
    for (const id of common) if (!ids.has(id)) common.delete(id);
  }
  return {
    encoder: readers.map((reader) => reader.encoder).join("+"),
    gridShape: [gridH, gridW, totalChannels],
    pooledSize,
    ids: first.ids.filter((id) => common.has(id)),
    viewsOf: (id) => Math.min(...readers.map((reader) => reader.viewsOf(id))),
    read(id, view = 0) {
      const grid = new Float32Array(regions * totalChannels);
      const pooled = new Float32Array(pooledSize);
      let channelOffset = 0;
      let pooledOffset = 0;
      readers.forEach((reader, index) => {
        const part = reader.read(id, view);
        const c = channels[index] as number;
        // Interleave per region: [regions, c_i] blocks into [regions, totalChannels].
        for (let r = 0; r < regions; r++) {
          grid.set(part.grid.subarray(r * c, (r + 1) * c), r * totalChannels + channelOffset);
        }
        pooled.set(part.pooled, pooledOffset);
        channelOffset += c;
        pooledOffset += reader.pooledSize;
      });
      return { grid, pooled };
    },
    close() {
      for (const reader of readers) reader.close();
    },
  };
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
