import { decodeHalf, encodeHalf } from "../features/float16.js";

/** Float32 values -> little-endian float16 bytes (the feature cache's codec, so both agree bit for bit). */
export function encodeFloat16(values: Float32Array): Buffer {
  const out = Buffer.alloc(values.length * 2);
  encodeHalf(values, out, 0);
  return out;
}

/** Little-endian float16 bytes -> Float32Array (written into `out` when given). */
export function decodeFloat16(bytes: Uint8Array, out?: Float32Array): Float32Array {
  const values = decodeHalf(bytes);
  if (!out) return values;
  out.set(values);
  return out;
}
