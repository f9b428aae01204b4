import { describe, expect, it } from "vitest";
import { initBackend, tf } from "./backend.js";

describe("initBackend", () => {
  it("runs wasm kernels loaded from node_modules", async () => {
    await initBackend("wasm");
    expect(tf.getBackend()).toBe("wasm");
    const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(Array.from(await product.data())).toEqual([11]);
  });
});
