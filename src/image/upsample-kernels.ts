/*
 * The three loops of the enlargement (upsample.ts), as a WebAssembly module with 128-bit SIMD, written
 * out here instruction by instruction with core/wasm-asm.ts (the project has no WebAssembly compiler);
 * in plain JavaScript the same loops took 4-6 ms per 448-pixel image, in WebAssembly 0.6-0.7 ms. Integer arithmetic only,
 * so the results are those of the JavaScript formulas in upsample.ts, bit for bit.
 *
 * Exports: memory, and
 *   rows(src, srcRowBytes, height, outWidth, table, mid): the horizontal pass. For each source row and
 *     output column x, table + 32x holds 4 tap byte offsets (i32) then 4 weights (i32); writes
 *     (sum(w * src) + 2048) >> 12 for R, G, B as i32 at mid, 12 bytes per pixel (each 16-byte store's
 *     4th lane is overwritten by the next pixel, or lands in the slack after the last one).
 *   columns(mid, rowValues, outHeight, table, out): the vertical pass. table + 32y holds 4 byte offsets
 *     of mid rows then 4 weights; writes clip(0, (sum(w * mid) + 2048) >> 12, 255) as bytes, 16 values
 *     per step (a row's last step spills into the next row, written after it, or into the slack).
 *   mirror(src, width, height, dst): dst = src with each row's pixels in reverse order (RGB, 3 bytes).
 * Callers leave 64 bytes of slack after every buffer (the mirror's loads read up to 14 bytes past a row).
 */

import {
  add,
  and,
  br,
  bump,
  countDown,
  get,
  I32,
  i32,
  i32x4,
  load,
  load8,
  load8x8u,
  load32splat,
  loop,
  moduleBytes,
  mul,
  narrowS16,
  narrowU8,
  repeat,
  set,
  shrU,
  shuffle,
  store8,
  V128,
  vload,
  vstore,
  type WasmFunction,
} from "../core/wasm-asm.js";

/** i32x4 of 2048 (half of the 4096 fixed-point scale: libvips rounds half up). */
const half = [...i32(2048), ...i32x4.splat];

function rows(): WasmFunction {
  // params: 0 src, 1 srcRowBytes, 2 height, 3 outWidth, 4 table, 5 mid; locals: 6 x, 7 t
  const tap = (k: number) => [
    ...get(0),
    ...get(7),
    ...load(4 * k),
    ...add,
    ...load8x8u(),
    ...i32x4.extendLowU16,
    ...get(7),
    ...load32splat(16 + 4 * k),
    ...i32x4.mul,
    ...i32x4.add,
  ];
  const body = loop(
    ...[get(3), set(6), get(4), set(7)],
    loop(
      ...[get(5), half, tap(0), tap(1), tap(2), tap(3), i32(12), i32x4.shrS, vstore()],
      ...[bump(5, 12), bump(7, 32), countDown(6), br(0)],
    ),
    ...[get(0), get(1), add, set(0), countDown(2), br(0)],
  );
  return { name: "rows", params: Array(6).fill(I32), locals: [I32, I32], body };
}

function columns(): WasmFunction {
  // params: 0 mid, 1 rowValues, 2 outHeight, 3 table, 4 out
  // locals: 5-8 row pointers, 9 steps, 10 q, 11-14 weights (v128)
  const value = (offset: number) => [
    ...half,
    ...[5, 6, 7, 8].flatMap((row, k) => [
      ...get(row),
      ...vload(offset),
      ...get(11 + k),
      ...i32x4.mul,
      ...i32x4.add,
    ]),
    ...i32(12),
    ...i32x4.shrS,
  ];
  const setup = [0, 1, 2, 3].flatMap((k) => [
    ...get(0),
    ...get(3),
    ...load(4 * k),
    ...add,
    ...set(5 + k),
    ...get(3),
    ...load32splat(16 + 4 * k),
    ...set(11 + k),
  ]);
  const body = loop(
    ...[setup, get(4), set(10)],
    // steps = ceil(rowValues / 16)
    ...[get(1), i32(15), add, i32(4), shrU, set(9)],
    loop(
      ...[get(10), value(0), value(16), narrowS16, value(32), value(48), narrowS16, narrowU8, vstore()],
      ...[bump(5, 64), bump(6, 64), bump(7, 64), bump(8, 64), bump(10, 16), countDown(9), br(0)],
    ),
    ...[get(4), get(1), add, set(4), bump(3, 32), countDown(2), br(0)],
  );
  return {
    name: "columns",
    params: Array(5).fill(I32),
    locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128],
    body,
  };
}

/**
 * How to build output vector m (bytes 16m..16m+15) of 16 reversed RGB pixels (48 bytes): its byte b is
 * input byte 3 * (15 - j) + c, for pixel j = (16m + b) / 3 and channel c. Those 16 bytes span 18 input
 * bytes, so two vectors loaded from `base` and `base + 16` hold them all.
 */
function mirrorLanes(m: number): { base: number; lanes: number[] } {
  const from = Array.from(
    { length: 16 },
    (_, b) => 3 * (15 - Math.floor((16 * m + b) / 3)) + ((16 * m + b) % 3),
  );
  const base = Math.min(...from);
  return { base, lanes: from.map((f) => f - base) };
}

function mirror(): WasmFunction {
  // params: 0 src, 1 width, 2 height, 3 dst; locals: 4 d (write pointer, from the row end), 5 n
  const rowBytes = [...get(1), ...i32(3), ...mul];
  const body = loop(
    ...[get(3), rowBytes, add, set(3), get(3), set(4)],
    // 16 pixels at a time
    ...[get(1), i32(4), shrU, set(5)],
    repeat(
      5,
      bump(4, -48),
      ...[0, 1, 2].map((m) => {
        const { base, lanes } = mirrorLanes(m);
        return [
          ...get(4),
          ...get(0),
          ...vload(base),
          ...get(0),
          ...vload(base + 16),
          ...shuffle(lanes),
          ...vstore(16 * m),
        ];
      }),
      bump(0, 48),
    ),
    // the rest one pixel at a time
    ...[get(1), i32(15), and, set(5)],
    repeat(
      5,
      bump(4, -3),
      ...[0, 1, 2].map((c) => [...get(4), ...get(0), ...load8(c), ...store8(c)]),
      bump(0, 3),
    ),
    ...[countDown(2), br(0)],
  );
  return { name: "mirror", params: Array(4).fill(I32), locals: [I32, I32], body };
}

/** The module's bytes. Every function returns nothing; their loops run at least once (callers check sizes). */
export function kernelModuleBytes(): Uint8Array {
  return moduleBytes([rows(), columns(), mirror()], "export");
}
