import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Adam, clipByGlobalNorm, globalNormScale } from "../training/optimizer.js";
import { initBackend, tf } from "./backend.js";
import { adamUpdate, fusedOptimizerStatus, setFusedOptimizer, sumOfSquares } from "./fused-adam.js";

const OPTIONS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
// lengths 7 and 3 leave a scalar tail; 2^20 + 3 is the large one
const SHAPES = [[7], [33, 5], [64, 17], [3], [(1 << 20) + 3]];
const NAMES = SHAPES.map((_, i) => `w${i}`);

const variables = (shapes = SHAPES) =>
  new Map(shapes.map((shape, i) => [NAMES[i]!, tf.variable(tf.randomNormal(shape, 0, 1, "float32", 1 + i))]));
const gradients = (step: number, shapes = SHAPES) =>
  new Map(
    shapes.map((shape, i) => [NAMES[i]!, tf.randomNormal(shape, 0, 2, "float32", 100 + 10 * step + i)]),
  );
const dispose = (tensors: Iterable<tf.Tensor>) => {
  for (const t of tensors) t.dispose();
};

/** Largest |a − b| / |b| over all values (0 where both are 0). */
function maxRelative(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (d > 0) worst = Math.max(worst, d / Math.abs(y[i]!));
  }
  return worst;
}

describe("fused Adam on the wasm heap", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });
  beforeEach(() => setFusedOptimizer(true));
  afterAll(() => setFusedOptimizer(true));

  it("builds its module in the wasm backend's memory", () => {
    expect(fusedOptimizerStatus()).toEqual({ active: true });
  });

  it("sums squares in float64, tails and a million values included", () => {
    for (const shape of [[1], [3], [4], [7], [129, 3], [(1 << 20) + 3]]) {
      const x = tf.randomNormal(shape, 0, 1, "float32", 7);
      let exact = 0;
      for (const value of x.dataSync()) exact += value * value;
      const fused = sumOfSquares([x])!;
      expect(Math.abs(fused - exact) / exact).toBeLessThan(1e-9);
      // tfjs's own float32 sum drifts with the length (4.5e-4 at 2^20 values, 2% at 12.3M)
      const ops = x.square().sum().dataSync()[0]!;
      expect(Math.abs(ops - fused) / fused).toBeLessThan(x.size > 1e4 ? 2e-3 : 1e-6);
      x.dispose();
    }
    const parts = [tf.tensor1d([3]), tf.tensor1d([]), tf.tensor2d([[0, 4]])];
    expect(sumOfSquares(parts)).toBe(25);
    dispose(parts);
  });

  it("takes the ops path's steps bit for bit, with a clip scale, m and v in place, p in a new buffer", () => {
    const fusedVars = variables();
    const opsVars = variables();
    const fused = new Adam(fusedVars, OPTIONS);
    const ops = new Adam(opsVars, OPTIONS);
    const moments = (adam: Adam) =>
      adam as unknown as { m: Map<string, tf.Variable>; v: Map<string, tf.Variable> };
    const momentIds = () =>
      NAMES.flatMap((n) => [moments(fused).m.get(n)!.dataId, moments(fused).v.get(n)!.dataId]);
    const ids = momentIds();
    for (let step = 0; step < 4; step++) {
      const grads = gradients(step);
      const scale = step % 2 === 0 ? 1 : 0.37;
      const paramIds = [...fusedVars.values()].map((v) => v.dataId);
      const before = tf.memory().numTensors;
      setFusedOptimizer(true);
      fused.apply(grads, 1e-3 * (step + 1), scale);
      expect(tf.memory().numTensors).toBe(before);
      setFusedOptimizer(false);
      ops.apply(grads, 1e-3 * (step + 1), scale);
      expect(tf.memory().numTensors).toBe(before);
      dispose(grads.values());
      expect(momentIds()).toEqual(ids);
      [...fusedVars.values()].forEach((v, i) => {
        expect(v.dataId).not.toBe(paramIds[i]);
      });
    }
    for (const name of NAMES) {
      expect(maxRelative(fusedVars.get(name)!, opsVars.get(name)!)).toBe(0);
      expect(maxRelative(moments(fused).m.get(name)!, moments(ops).m.get(name)!)).toBe(0);
      expect(maxRelative(moments(fused).v.get(name)!, moments(ops).v.get(name)!)).toBe(0);
    }
    dispose([...fusedVars.values(), ...opsVars.values()]);
    fused.dispose();
    ops.dispose();
  });

  it("clips like clipByGlobalNorm on the ops path, within float rounding", () => {
    // without the 2^20 values, over which tfjs's float32 sum is off by 4.5e-4
    const shapes = SHAPES.slice(0, -1);
    const fusedVars = variables(shapes);
    const opsVars = variables(shapes);
    const fused = new Adam(fusedVars, OPTIONS);
    const ops = new Adam(opsVars, OPTIONS);
    for (let step = 0; step < 3; step++) {
      const before = tf.memory().numTensors;
      const grads = gradients(step, shapes);
      setFusedOptimizer(true);
      const { norm, scale } = globalNormScale(grads, 20);
      fused.apply(grads, 1e-3, scale);
      expect(scale).toBeLessThan(1);
      expect(tf.memory().numTensors).toBe(before + grads.size);
      setFusedOptimizer(false);
      const scaled = new Map([...grads].map(([name, g]) => [name, g.clone()]));
      const opsNorm = clipByGlobalNorm(scaled, 20);
      ops.apply(scaled, 1e-3);
      expect(Math.abs(norm - opsNorm) / norm).toBeLessThan(1e-6);
      dispose([...grads.values(), ...scaled.values()]);
      expect(tf.memory().numTensors).toBe(before);
    }
    for (const [name, variable] of fusedVars)
      expect(maxRelative(variable, opsVars.get(name)!)).toBeLessThan(1e-6);
    dispose([...fusedVars.values(), ...opsVars.values()]);
    fused.dispose();
    ops.dispose();
  });

  it("leaves a moment buffer that another tensor shares alone", () => {
    const variable = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]));
    const grad = tf.tensor1d([1, -1, 2, -2, 3]);
    const m = tf.variable(tf.zeros([5]));
    const v = tf.variable(tf.zeros([5]));
    const alias = m.clone();
    const constants = { ...OPTIONS, stepSize: 0.1, gradScale: 1 };
    expect(adamUpdate([{ variable, grad, m, v }], constants)).toBe(true);
    expect(Array.from(alias.dataSync())).toEqual([0, 0, 0, 0, 0]);
    expect(m.dataId).not.toBe(alias.dataId);
    expect(m.dataSync()[0]).toBeCloseTo(0.1, 6);
    dispose([variable, grad, m, v, alias]);
  });

  it("leaves the cpu backend to tfjs ops", async () => {
    await initBackend("cpu");
    try {
      expect(fusedOptimizerStatus().active).toBe(false);
      const w = tf.variable(tf.tensor1d([0.5, -1, 2]));
      const grads = new Map([["w", tf.tensor1d([3, 0, 4])]]);
      expect(sumOfSquares([...grads.values()])).toBeUndefined();
      const { norm, scale } = globalNormScale(grads, 1);
      expect(norm).toBeCloseTo(5, 5);
      const adam = new Adam(new Map([["w", w]]), OPTIONS);
      adam.apply(grads, 0.1, scale);
      // Adam's first step moves each weight by the learning rate against the gradient's sign
      expect(Array.from(w.dataSync()).map((x) => Number(x.toFixed(4)))).toEqual([0.4, -1, 1.9]);
      dispose([w, ...grads.values()]);
      adam.dispose();
    } finally {
      await initBackend("wasm");
    }
  });
});
