import { expect } from "vitest";
import { tf } from "../backend.js";

/** Runs fn on `backend` in a tidy scope and returns copies of its outputs' values. */
export function runOn(backend: "wasm" | "cpu", fn: () => tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(fn).map((t) => {
    const values = Float32Array.from(t.dataSync() as Float32Array);
    t.dispose();
    return values;
  });
}

/** The largest difference relative to max(1, |expected|), after checking the lengths match. */
export function worstRelative(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i] as number));
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / scale);
  }
  return worst;
}

/** runOn for a function of one output. */
export function runOne(backend: "wasm" | "cpu", fn: () => tf.Tensor): Float32Array {
  return runOn(backend, () => [fn()])[0] as Float32Array;
}
