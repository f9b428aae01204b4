/**
 * Grids are stored as 8-bit codes with a float32 offset and step per region row: 1 byte per value
 * instead of 2 for float16, and the error (half a step, under 0.2% of a row's range) is far below what
 * changes a caption's log-probability ranking. Layout: [rows u32] then per row [min f32][step f32][cols x u8].
 */
export function quantizeRows(values: Float32Array, rows: number): Buffer {
  const cols = values.length / rows;
  if (!Number.isInteger(cols))
    throw new Error(`quantizeRows: ${values.length} values do not split into ${rows} rows`);
  const stride = 8 + cols;
  const out = Buffer.alloc(4 + rows * stride);
  out.writeUInt32LE(rows, 0);
  for (let r = 0; r < rows; r++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const step = hi > lo ? (hi - lo) / 255 : 0;
    const base = 4 + r * stride;
    out.writeFloatLE(lo, base);
    out.writeFloatLE(step, base + 4);
    for (let c = 0; c < cols; c++) {
      out[base + 8 + c] = step > 0 ? Math.round((values[r * cols + c]! - lo) / step) : 0;
    }
  }
  return out;
}

/** Inverse of quantizeRows: the values and the row count. */
export function dequantizeRows(bytes: Uint8Array): { values: Float32Array; rows: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows = view.getUint32(0, true);
  const stride = (bytes.byteLength - 4) / rows;
  const cols = stride - 8;
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = 4 + r * stride;
    const lo = view.getFloat32(base, true);
    const step = view.getFloat32(base + 4, true);
    for (let c = 0; c < cols; c++) values[r * cols + c] = lo + step * bytes[base + 8 + c]!;
  }
  return { values, rows };
}
