/**
 * IEEE 754 half precision, the one codec of every float16 file captionkit writes (feature store, model
 * weights, caption memories, n-gram priors, search vectors). Node 20 has no Float16Array, so conversion
 * is by hand: round-half-to-even like the hardware instruction, so a file written here matches numpy's
 * astype(float16); subnormals, inf and NaN kept.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf / nan
  const e = exponent - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    // subnormal half: shift the mantissa (with its implicit 1) into place, round half to even
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  // normal: the rounding carry may ripple into the exponent, which is exactly the right result
  let out = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++;
  return sign | out;
}

/** Half-precision bits -> float32 value, via a 64K-entry table built once (faster than bit math per value). */
let table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[h] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

export function fromHalfBits(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}

/** float32 values -> half bits, written little-endian into `out` at byte `offset`. */
export function encodeHalf(values: Float32Array, out: Buffer, offset: number): void {
  for (let i = 0; i < values.length; i++) out.writeUInt16LE(toHalfBits(values[i]!), offset + 2 * i);
}

/** Little-endian half bits in `bytes` -> float32. */
export function decodeHalf(bytes: Uint8Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = t[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

/** float32 -> half bits, one per value (model weights, caption memories, n-gram priors). */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalfBits(values[i] as number);
  return out;
}

/** Half bits -> float32. */
export function float16ToFloat32(values: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = t[values[i] as number] as number;
  return out;
}

/** float32 values -> little-endian half bytes (the search index's vectors). */
export function encodeFloat16(values: Float32Array): Buffer {
  const out = Buffer.alloc(values.length * 2);
  encodeHalf(values, out, 0);
  return out;
}

/** Little-endian half bytes -> float32 (written into `out` when given). */
export function decodeFloat16(bytes: Uint8Array, out?: Float32Array): Float32Array {
  const values = decodeHalf(bytes);
  if (!out) return values;
  out.set(values);
  return out;
}
