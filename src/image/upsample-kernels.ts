/*
 * The three loops of the enlargement (upsample.ts), as a WebAssembly module with 128-bit SIMD, written
 * out here instruction by instruction: the project has no WebAssembly compiler, and in plain JavaScript
 * the same loops took 4-6 ms per 448-pixel image, in WebAssembly 0.6-0.7 ms. Integer arithmetic only,
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

const I32 = 0x7f;
const V128 = 0x7b;

/** Unsigned LEB128, as the binary format writes sizes, indices and SIMD opcodes. */
function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, for i32.const. */
function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

// core opcodes
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const add = [0x6a];
const sub = [0x6b];
const mul = [0x6c];
const and = [0x71];
const shrU = [0x76];
const eqz = [0x45];
const load = (offset = 0) => [0x28, 0, ...uleb(offset)];
const load8 = (offset = 0) => [0x2d, 0, ...uleb(offset)];
const store8 = (offset = 0) => [0x3a, 0, ...uleb(offset)];
/** block { loop { body } }: `br 1` leaves, `br 0` repeats. */
const loop = (...body: number[][]) => [0x02, 0x40, 0x03, 0x40, ...body.flat(), 0x0b, 0x0b];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const br = (depth: number) => [0x0c, ...uleb(depth)];
/** local += step */
const bump = (local: number, step: number) => [...get(local), ...i32(step), ...add, ...set(local)];
/** --local, and leave the loop when it reaches 0 */
const countDown = (local: number) => [
  ...get(local),
  ...i32(1),
  ...sub,
  ...set(local),
  ...get(local),
  ...eqz,
  ...brIf(1),
];

// SIMD opcodes (0xfd prefix, opcode as LEB128)
const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];
const vload = (offset = 0) => simd(0x00, 0, ...uleb(offset));
const vstore = (offset = 0) => simd(0x0b, 0, ...uleb(offset));
const load8x8u = (offset = 0) => simd(0x02, 0, ...uleb(offset)); // 8 bytes -> i16x8, zero-extended
const load32splat = (offset = 0) => simd(0x09, 0, ...uleb(offset));
const i32x4splat = simd(0x11);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes);
const narrowU8 = simd(0x66); // i8x16.narrow_i16x8_u: saturates to 0..255, which is the clip
const narrowS16 = simd(0x85); // i16x8.narrow_i32x4_s
const extendLowU32 = simd(0xa9); // i32x4.extend_low_i16x8_u
const shrS32 = simd(0xac);
const add32 = simd(0xae);
const mul32 = simd(0xb5);

/** i32x4 of 2048 (half of the 4096 fixed-point scale: libvips rounds half up). */
const half = [...i32(2048), ...i32x4splat];

function rows(): { params: number; locals: number[]; body: number[] } {
  // params: 0 src, 1 srcRowBytes, 2 height, 3 outWidth, 4 table, 5 mid; locals: 6 x, 7 t
  const tap = (k: number) => [
    ...get(0),
    ...get(7),
    ...load(4 * k),
    ...add,
    ...load8x8u(),
    ...extendLowU32,
    ...get(7),
    ...load32splat(16 + 4 * k),
    ...mul32,
    ...add32,
  ];
  const body = loop(
    ...[get(3), set(6), get(4), set(7)],
    loop(
      ...[get(5), half, tap(0), tap(1), tap(2), tap(3), i32(12), shrS32, vstore()],
      ...[bump(5, 12), bump(7, 32), countDown(6), br(0)],
    ),
    ...[get(0), get(1), add, set(0), countDown(2), br(0)],
  );
  return { params: 6, locals: [I32, I32], body };
}

function columns(): { params: number; locals: number[]; body: number[] } {
  // params: 0 mid, 1 rowValues, 2 outHeight, 3 table, 4 out
  // locals: 5-8 row pointers, 9 steps, 10 q, 11-14 weights (v128)
  const value = (offset: number) => [
    ...half,
    ...[5, 6, 7, 8].flatMap((row, k) => [...get(row), ...vload(offset), ...get(11 + k), ...mul32, ...add32]),
    ...i32(12),
    ...shrS32,
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
  return { params: 5, locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128], body };
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

function mirror(): { params: number; locals: number[]; body: number[] } {
  // params: 0 src, 1 width, 2 height, 3 dst; locals: 4 d (write pointer, from the row end), 5 n
  const rowBytes = [...get(1), ...i32(3), ...mul];
  const body = loop(
    ...[get(3), rowBytes, add, set(3), get(3), set(4)],
    // 16 pixels at a time
    ...[get(1), i32(4), shrU, set(5)],
    [0x02, 0x40, ...get(5), ...eqz, ...brIf(0), 0x03, 0x40],
    ...[bump(4, -48)],
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
    ...[bump(0, 48), countDown(5), br(0), [0x0b, 0x0b]],
    // the rest one pixel at a time
    ...[get(1), i32(15), and, set(5)],
    [0x02, 0x40, ...get(5), ...eqz, ...brIf(0), 0x03, 0x40],
    ...[bump(4, -3)],
    ...[0, 1, 2].map((c) => [...get(4), ...get(0), ...load8(c), ...store8(c)]),
    ...[bump(0, 3), countDown(5), br(0), [0x0b, 0x0b]],
    ...[countDown(2), br(0)],
  );
  return { params: 4, locals: [I32, I32], body };
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** The module's bytes. Every function returns nothing; their loops run at least once (callers check sizes). */
export function kernelModuleBytes(): Uint8Array {
  const functions = [
    ["rows", rows()],
    ["columns", columns()],
    ["mirror", mirror()],
  ] as const;
  const types = functions.map(([, f]) => [0x60, ...vector(Array.from({ length: f.params }, () => [I32])), 0]);
  const codes = functions.map(([, f]) => {
    const locals = vector(f.locals.map((type) => [1, type]));
    const code = [...locals, ...f.body, 0x0b];
    return [...uleb(code.length), ...code];
  });
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(1)]])),
    ...section(
      7,
      vector([[...name("memory"), 0x02, 0], ...functions.map(([n], i) => [...name(n), 0x00, ...uleb(i)])]),
    ),
    ...section(10, vector(codes)),
  ];
  return new Uint8Array(bytes);
}
