import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  add,
  and,
  bump,
  F32,
  F64,
  f32,
  f32x4,
  f64,
  f64x2,
  get,
  I32,
  i32,
  instantiate,
  isWasmMemory,
  moduleBytes,
  repeat,
  set,
  shrU,
  shuffle,
  tee,
  V128,
  type ValueType,
  vload,
  vstore,
  type WasmFunction,
} from "../core/wasm-asm.js";

/*
 * The optimizer's two passes over every parameter (training/optimizer.ts) as WebAssembly SIMD loops
 * that work in place in the wasm backend's heap: a module importing the backend's memory reads and
 * writes tensors at their heap offsets. Through tfjs ops, Adam is ~12 kernels per variable, each a pass
 * over arrays of up to 49 MB, and the global norm two more. Here it is one pass reading p, g, m, v and
 * writing p', m', v', and one reading g: for SAT-512's 12.3M parameters 19 ms a step instead of 165
 * (bench/adam.ts, load ~4).
 *
 * Elementwise it is the ops path's arithmetic: the same float32 operations in the same order (wasm
 * SIMD has no fused multiply-add), with the constants rounded to float32 as tfjs's scalars are, so
 * the results are the ops path's bit for bit (fused-adam.test.ts).
 * tfjs's mallocs are only 8-byte aligned, so every load and store is unaligned (alignment hint 0).
 */

/** Parameter indices of `adam`: pointers and count, then the float32 constants. */
const [P, G, M, V, P_OUT, M_OUT, V_OUT, N] = [0, 1, 2, 3, 4, 5, 6, 7];
const CONSTANTS = 7; // scale, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, epsilon
const [SCALE, B1, C1, B2, C2, STEP, EPS] = [8, 9, 10, 11, 12, 13, 14];
/** Locals of `adam`: byte index, loop counter, the constants splatted, then temporaries. */
const [INDEX, COUNT, SPLATS, VECTOR_TEMPS, SCALAR_TEMPS] = [15, 16, 17, 24, 27];

/** The instructions for one element (f32) or four (f32x4). */
interface Lanes {
  load: number[];
  store: number[];
  ops: Record<"add" | "sub" | "mul" | "div" | "sqrt", number[]>;
  /** local holding constant `param` */
  constant: (param: number) => number;
  /** first of three temporaries: s·g, m', v' */
  temps: number;
  bytes: number;
}

/** m' = b1·m + (1−b1)·sg, v' = b2·v + (1−b2)·sg², p' = p − stepSize·m'/(√v' + ε), as Adam.apply's ops. */
function adamElements(l: Lanes): number[][] {
  const at = (base: number) => [...get(base), ...get(INDEX), ...add];
  const c = (param: number) => get(l.constant(param));
  const [sg, newM, newV] = [l.temps, l.temps + 1, l.temps + 2];
  const { mul, add: plus, sub, div, sqrt } = l.ops;
  return [
    ...[at(G), l.load, c(SCALE), mul, set(sg)],
    ...[at(M_OUT), at(M), l.load, c(B1), mul, get(sg), c(C1), mul, plus, tee(newM), l.store],
    ...[at(V_OUT), at(V), l.load, c(B2), mul, get(sg), get(sg), mul, c(C2), mul, plus, tee(newV), l.store],
    ...[at(P_OUT), at(P), l.load, get(newM), c(STEP), mul, get(newV), sqrt, c(EPS), plus, div, sub, l.store],
    bump(INDEX, l.bytes),
  ];
}

function adam(): WasmFunction {
  const vector: Lanes = {
    load: vload(),
    store: vstore(),
    ops: f32x4,
    constant: (param) => SPLATS + param - SCALE,
    temps: VECTOR_TEMPS,
    bytes: 16,
  };
  const scalar: Lanes = {
    load: f32.load(),
    store: f32.store(),
    ops: f32,
    constant: (param) => param,
    temps: SCALAR_TEMPS,
    bytes: 4,
  };
  const splats = Array.from({ length: CONSTANTS }, (_, k) => [
    ...get(SCALE + k),
    ...f32x4.splat,
    ...set(SPLATS + k),
  ]);
  const body = [
    ...splats,
    ...[get(N), i32(2), shrU, set(COUNT)],
    repeat(COUNT, ...adamElements(vector)),
    ...[get(N), i32(3), and, set(COUNT)],
    repeat(COUNT, ...adamElements(scalar)),
  ].flat();
  const fill = (n: number, type: ValueType) => Array<ValueType>(n).fill(type);
  return {
    name: "adam",
    params: [...fill(8, I32), ...fill(CONSTANTS, F32)],
    locals: [I32, I32, ...fill(CONSTANTS + 3, V128), F32, F32, F32],
    body,
  };
}

/**
 * Σx² of n float32 values from byte offset x. The squares and their sums are float64 (two f64x2
 * accumulators, for the low and high lanes, and one scalar for the tail): tfjs's float32 sum drifts
 * with the length (4.5e-4 relative over 2^20 values, 2% over 12.3M), float64's stays near 1e-12.
 */
function sumSquares(): WasmFunction {
  // params: 0 x, 1 n; locals: 2 index, 3 count, 4 four values, 5 two squares, 6-7 sums (f64x2),
  // 8 sum (f64), 9 square (f64)
  const at = [...get(0), ...get(2), ...add];
  const high = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
  const accumulate = (sum: number) => [
    ...f64x2.promoteLow,
    ...tee(5),
    ...get(5),
    ...f64x2.mul,
    ...get(sum),
    ...f64x2.add,
    ...set(sum),
  ];
  const body = [
    ...[get(1), i32(2), shrU, set(3)],
    repeat(3, at, vload(), tee(4), accumulate(6), get(4), get(4), high, accumulate(7), bump(2, 16)),
    ...[get(1), i32(3), and, set(3)],
    repeat(3, at, f32.load(), f32.promote, tee(9), get(9), f64.mul, get(8), f64.add, set(8), bump(2, 4)),
    ...[get(6), f64x2.extractLane(0), get(6), f64x2.extractLane(1), f64.add],
    ...[get(7), f64x2.extractLane(0), f64.add, get(7), f64x2.extractLane(1), f64.add, get(8), f64.add],
  ].flat();
  return {
    name: "sumSquares",
    params: [I32, I32],
    results: [F64],
    locals: [I32, I32, V128, V128, V128, V128, F64, F64],
    body,
  };
}

interface Kernels {
  sumSquares(x: number, n: number): number;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    scale: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    stepSize: number,
    epsilon: number,
  ): void;
}

let enabled = process.env.CAPTIONKIT_FUSED_ADAM !== "0";
let built: { memory: object; kernels: Kernels } | undefined;
let unavailable: string | undefined;

/** Turns the fused passes on or off (tests and benches compare them with the ops path). */
export function setFusedOptimizer(on: boolean): void {
  enabled = on;
}

/** Whether the fused passes would run now, and why not. */
export function fusedOptimizerStatus(): { active: boolean; reason?: string } {
  if (!enabled) return { active: false, reason: "disabled" };
  if (wasmKernels()) return { active: true };
  return { active: false, reason: unavailable ?? `backend ${tf.getBackend()}` };
}

/** The wasm backend and the kernels instantiated in its memory; undefined on other backends. */
function wasmKernels(): { backend: BackendWasm; kernels: Kernels } | undefined {
  if (!enabled || tf.getBackend() !== "wasm") return undefined;
  const backend = tf.backend() as BackendWasm;
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!isWasmMemory(memory) || !(memory.buffer instanceof ArrayBuffer)) {
    unavailable = "the wasm backend's memory is not an unshared WebAssembly.Memory";
    return undefined;
  }
  if (built?.memory !== memory) {
    try {
      const bytes = moduleBytes([adam(), sumSquares()], "import");
      built = { memory, kernels: instantiate<Kernels>(bytes, { env: { memory } }) };
    } catch (error) {
      unavailable = `the fused optimizer module did not build: ${(error as Error).message}`;
      return undefined;
    }
  }
  return { backend, kernels: built.kernels };
}

/** Heap byte offset of a float32 tensor held by the wasm backend. */
function offsetOf(backend: BackendWasm, t: tf.Tensor): number | undefined {
  if (t.dtype !== "float32" || !backend.dataIdMap.has(t.dataId)) return undefined;
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Σ of the squares of all the values of `tensors`, in float64; undefined off the wasm backend. */
export function sumOfSquares(tensors: readonly tf.Tensor[]): number | undefined {
  const wasm = wasmKernels();
  if (!wasm) return undefined;
  const offsets = tensors.map((t) => offsetOf(wasm.backend, t));
  if (offsets.some((offset) => offset === undefined)) return undefined;
  let sum = 0;
  tensors.forEach((t, i) => {
    if (t.size > 0) sum += wasm.kernels.sumSquares(offsets[i]!, t.size);
  });
  return sum;
}

/** One variable's share of an Adam step: its gradient and its moments (the optimizer's variables). */
export interface AdamSlot {
  variable: tf.Variable;
  grad: tf.Tensor;
  m: tf.Variable;
  v: tf.Variable;
}

export interface AdamConstants {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** learning rate with both bias corrections folded in */
  stepSize: number;
  /** factor on every gradient (the global-norm clip's), 1 for none */
  gradScale: number;
}

/**
 * One Adam step for every slot, fused; false (and nothing changed) off the wasm backend. m and v are
 * updated in place (each is the optimizer's own buffer) unless another tensor shares it. The parameter
 * gets a new buffer: kernel-fixes.ts caches transposed copies of weights by dataId.
 */
export function adamUpdate(slots: readonly AdamSlot[], c: AdamConstants): boolean {
  const wasm = wasmKernels();
  if (!wasm) return false;
  const { backend, kernels } = wasm;
  const fits = slots.every(
    ({ variable, grad, m, v }) =>
      grad.size === variable.size &&
      m.size === variable.size &&
      v.size === variable.size &&
      [variable, grad, m, v].every((t) => offsetOf(backend, t) !== undefined),
  );
  if (!fits) return false;
  // Allocating may grow the heap: offsets stay valid (views of its buffer would not).
  const target = (t: tf.Variable) =>
    backend.refCount(t.dataId) === 1 ? undefined : backend.makeOutput(t.shape, "float32");
  for (const { variable, grad, m, v } of slots) {
    if (variable.size === 0) continue;
    const outputs = [variable, m, v].map((t, i) =>
      i === 0 ? backend.makeOutput(t.shape, "float32") : target(t),
    );
    const at = (info: tf.TensorInfo | undefined, t: tf.Tensor) =>
      info ? backend.dataIdMap.get(info.dataId).memoryOffset : offsetOf(backend, t)!;
    kernels.adam(
      offsetOf(backend, variable)!,
      offsetOf(backend, grad)!,
      offsetOf(backend, m)!,
      offsetOf(backend, v)!,
      at(outputs[0], variable),
      at(outputs[1], m),
      at(outputs[2], v),
      variable.size,
      c.gradScale,
      c.beta1,
      1 - c.beta1,
      c.beta2,
      1 - c.beta2,
      c.stepSize,
      c.epsilon,
    );
    [variable, m, v].forEach((t, i) => {
      const info = outputs[i];
      if (!info) return;
      const value = tf.engine().makeTensorFromTensorInfo(info, backend);
      t.assign(value);
      value.dispose();
    });
  }
  return true;
}
