import { describe, expect, it } from "vitest";
import {
  BatcherClosedError,
  ClientGoneError,
  MicroBatcher,
  QueueFullError,
  QueueTimeoutError,
} from "./batcher.js";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Doubles numbers, recording batch sizes; `hold` keeps a batch running until released. */
function doubler(runMs = 0) {
  const batches: number[][] = [];
  return {
    batches,
    run: async (items: number[]) => {
      batches.push(items);
      if (runMs) await delay(runMs);
      return items.map((x) => x * 2);
    },
  };
}

describe("MicroBatcher", () => {
  it("puts requests that arrive together into one call, up to maxBatch, in order", async () => {
    const model = doubler(20);
    const batcher = new MicroBatcher({
      maxBatch: 4,
      maxWaitMs: 50,
      maxQueue: 100,
      timeoutMs: 5000,
      run: model.run,
    });
    const outcomes = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => batcher.submit(x)));
    expect(outcomes.map((o) => o.output)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(model.batches).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
    expect(outcomes[0]!.batchSize).toBe(4);
    expect(outcomes[5]!.batchSize).toBe(2);
    // The second batch waited for the first one to finish.
    expect(outcomes[5]!.queueMs).toBeGreaterThanOrEqual(15);
  });

  it("runs a lone request after maxWaitMs without waiting for company", async () => {
    const model = doubler();
    const batcher = new MicroBatcher({
      maxBatch: 8,
      maxWaitMs: 30,
      maxQueue: 10,
      timeoutMs: 5000,
      run: model.run,
    });
    const started = performance.now();
    const outcome = await batcher.submit(21);
    const elapsed = performance.now() - started;
    expect(outcome.output).toBe(42);
    expect(elapsed).toBeGreaterThanOrEqual(25);
    expect(elapsed).toBeLessThan(1000);
  });

  it("with maxBatch 1 calls the model once per request", async () => {
    const model = doubler(5);
    const batcher = new MicroBatcher({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 10,
      timeoutMs: 5000,
      run: model.run,
    });
    await Promise.all([1, 2, 3].map((x) => batcher.submit(x)));
    expect(model.batches).toEqual([[1], [2], [3]]);
  });

  it("refuses items beyond maxQueue while the model is busy", async () => {
    const model = doubler(100);
    const batcher = new MicroBatcher({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 2,
      timeoutMs: 5000,
      run: model.run,
    });
    const running = batcher.submit(1); // starts at once: not counted in the queue
    await delay(5);
    const waiting = [batcher.submit(2), batcher.submit(3)];
    expect(batcher.depth).toBe(2);
    await expect(batcher.submit(4)).rejects.toBeInstanceOf(QueueFullError);
    await Promise.all([running, ...waiting]);
    expect(batcher.depth).toBe(0);
  });

  it("drops a waiting item whose client has gone, freeing its place, and never runs it", async () => {
    const model = doubler(100);
    const batcher = new MicroBatcher({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 2,
      timeoutMs: 5000,
      run: model.run,
    });
    const left = new AbortController();
    const running = batcher.submit(1, left.signal); // already running when its client leaves
    await delay(5);
    const gone = new AbortController();
    const abandoned = batcher.submit(2, gone.signal);
    const kept = batcher.submit(3);
    gone.abort();
    left.abort();
    await expect(abandoned).rejects.toBeInstanceOf(ClientGoneError);
    await expect(running).rejects.toBeInstanceOf(ClientGoneError);
    expect(batcher.depth).toBe(1);
    expect((await batcher.submit(4)).output).toBe(8);
    expect((await kept).output).toBe(6);
    expect(model.batches).toEqual([[1], [3], [4]]);
    await expect(batcher.submit(5, AbortSignal.abort())).rejects.toBeInstanceOf(ClientGoneError);
  });

  it("times out an item that waits too long and removes it from the queue", async () => {
    const model = doubler(150);
    const batcher = new MicroBatcher({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 10,
      timeoutMs: 60,
      run: model.run,
    });
    const first = batcher.submit(1);
    await delay(5);
    const second = batcher.submit(2);
    const settled = Promise.allSettled([first, second]);
    await expect(second).rejects.toBeInstanceOf(QueueTimeoutError);
    expect(batcher.depth).toBe(0);
    // The first was already running when its time ran out: it fails too, but the model finishes.
    const [firstResult] = await settled;
    expect(firstResult.status === "rejected" && firstResult.reason).toBeInstanceOf(QueueTimeoutError);
    await delay(200);
    expect(model.batches).toEqual([[1]]);
  });

  it("fails every item of a batch whose run throws, and keeps serving", async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>({
      maxBatch: 4,
      maxWaitMs: 5,
      maxQueue: 10,
      timeoutMs: 5000,
      run: async (items) => {
        if (fail) throw new Error("model crashed");
        return items;
      },
    });
    const results = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect((await batcher.submit(3)).output).toBe(3);
  });

  it("close() fails waiting items and refuses new ones", async () => {
    const model = doubler(50);
    const batcher = new MicroBatcher({
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 10,
      timeoutMs: 5000,
      run: model.run,
    });
    const running = batcher.submit(1);
    await delay(5);
    const waiting = batcher.submit(2);
    batcher.close();
    await expect(waiting).rejects.toBeInstanceOf(BatcherClosedError);
    await expect(batcher.submit(3)).rejects.toBeInstanceOf(BatcherClosedError);
    expect((await running).output).toBe(2);
  });
});
