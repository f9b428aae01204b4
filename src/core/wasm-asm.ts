/*
 * A small WebAssembly assembler: the project has no WebAssembly compiler, so its SIMD kernels
 * (image/upsample-kernels.ts, tfjs/fused-adam.ts) are written out instruction by instruction with
 * these helpers. Each instruction is an array of bytes; a function body is their concatenation.
 * Opcodes are those of the WebAssembly 2.0 core and fixed-width SIMD specifications.
 */

// value types
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128, as the binary format writes sizes, indices and SIMD opcodes. */
export function uleb(value: number): number[] {
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
export function sleb(value: number): number[] {
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

/** A memory access: opcode, alignment hint (log2 bytes; 0 promises nothing), offset. */
const memoryOp =
  (...opcode: number[]) =>
  (offset = 0, align = 0) => [...opcode, ...uleb(align), ...uleb(offset)];

// locals and i32
export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const tee = (i: number) => [0x22, ...uleb(i)];
export const i32 = (v: number) => [0x41, ...sleb(v)];
export const eqz = [0x45];
export const add = [0x6a];
export const sub = [0x6b];
export const mul = [0x6c];
export const and = [0x71];
export const shrU = [0x76];
export const load = memoryOp(0x28);
export const load8 = memoryOp(0x2d);
export const store8 = memoryOp(0x3a);

// scalar floats
export const f32 = {
  load: memoryOp(0x2a),
  store: memoryOp(0x38),
  sqrt: [0x91],
  add: [0x92],
  sub: [0x93],
  mul: [0x94],
  div: [0x95],
  /** f64.promote_f32 */
  promote: [0xbb],
};
export const f64 = { add: [0xa0], mul: [0xa2] };

// SIMD (0xfd prefix, opcode as LEB128)
export const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];
const simdMemoryOp = (op: number) => memoryOp(0xfd, ...uleb(op));
export const vload = simdMemoryOp(0x00);
export const vstore = simdMemoryOp(0x0b);
export const load8x8u = simdMemoryOp(0x02); // 8 bytes -> i16x8, zero-extended
export const load32splat = simdMemoryOp(0x09);
export const shuffle = (lanes: number[]) => simd(0x0d, ...lanes);
export const i32x4 = {
  splat: simd(0x11),
  /** i32x4.extend_low_i16x8_u */
  extendLowU16: simd(0xa9),
  shrS: simd(0xac),
  add: simd(0xae),
  mul: simd(0xb5),
};
export const narrowU8 = simd(0x66); // i8x16.narrow_i16x8_u: saturates to 0..255
export const narrowS16 = simd(0x85); // i16x8.narrow_i32x4_s
export const f32x4 = {
  splat: simd(0x13),
  sqrt: simd(0xe3),
  add: simd(0xe4),
  sub: simd(0xe5),
  mul: simd(0xe6),
  div: simd(0xe7),
};
export const f64x2 = {
  extractLane: (lane: number) => simd(0x21, lane),
  /** f64x2.promote_low_f32x4 */
  promoteLow: simd(0x5f),
  add: simd(0xf0),
  mul: simd(0xf2),
};

// control
/** block { loop { body } }: `br 1` leaves, `br 0` repeats. */
export const loop = (...body: number[][]) => [0x02, 0x40, 0x03, 0x40, ...body.flat(), 0x0b, 0x0b];
export const brIf = (depth: number) => [0x0d, ...uleb(depth)];
export const br = (depth: number) => [0x0c, ...uleb(depth)];
/** local += step */
export const bump = (local: number, step: number) => [...get(local), ...i32(step), ...add, ...set(local)];
/** --local, and leave the loop when it reaches 0 */
export const countDown = (local: number) => [
  ...get(local),
  ...i32(1),
  ...sub,
  ...set(local),
  ...get(local),
  ...eqz,
  ...brIf(1),
];
/** body, `local` times (none when it is 0), counting `local` down to 0. */
export const repeat = (local: number, ...body: number[][]) => [
  ...[0x02, 0x40, ...get(local), ...eqz, ...brIf(0), 0x03, 0x40],
  ...body.flat(),
  ...countDown(local),
  ...br(0),
  ...[0x0b, 0x0b],
];

export interface WasmFunction {
  name: string;
  params: readonly ValueType[];
  results?: readonly ValueType[];
  /** Locals after the parameters, in index order. */
  locals: readonly ValueType[];
  body: number[];
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

/**
 * A module of `functions`, each exported by its name. `memory: "export"` gives it its own memory
 * (1 page, growable), exported as "memory"; `"import"` makes it work in the memory given as
 * env.memory at instantiation (unshared, any size).
 */
export function moduleBytes(functions: readonly WasmFunction[], memory: "export" | "import"): Uint8Array {
  const types = functions.map((f) => [
    0x60,
    ...vector(f.params.map((type) => [type])),
    ...vector((f.results ?? []).map((type) => [type])),
  ]);
  const codes = functions.map((f) => {
    const locals = vector(f.locals.map((type) => [1, type]));
    const code = [...locals, ...f.body, 0x0b];
    return [...uleb(code.length), ...code];
  });
  const limits = memory === "export" ? [0x00, ...uleb(1)] : [0x00, ...uleb(0)];
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...(memory === "import"
      ? section(2, vector([[...name("env"), ...name("memory"), 0x02, ...limits]]))
      : []),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...(memory === "export" ? section(5, vector([limits])) : []),
    ...section(7, vector(memory === "export" ? [[...name("memory"), 0x02, 0], ...exports] : exports)),
    ...section(10, vector(codes)),
  ];
  return new Uint8Array(bytes);
}

/** The few WebAssembly globals used (the project's TypeScript libraries have no DOM types). */
interface WasmGlobals {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => object;
}

const wasmGlobals = () => (globalThis as unknown as { WebAssembly: WasmGlobals }).WebAssembly;

/** Compiles and instantiates `bytes` synchronously (modules here are a few kB); returns its exports. */
export function instantiate<Exports>(bytes: Uint8Array, imports?: object): Exports {
  const wasm = wasmGlobals();
  return new wasm.Instance(new wasm.Module(bytes), imports).exports as Exports;
}

/** Whether `value` is a WebAssembly.Memory. */
export function isWasmMemory(value: unknown): value is { buffer: ArrayBuffer } {
  return value instanceof wasmGlobals().Memory;
}
