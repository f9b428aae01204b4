/** Thrown by submit() when the queue already holds `maxQueue` waiting items. */
export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

/** The item waited and ran for longer than `timeoutMs` in total. */
export class QueueTimeoutError extends Error {
  override readonly name = "QueueTimeoutError";
}

/** The batcher was closed while the item was still waiting. */
export class BatcherClosedError extends Error {
  override readonly name = "BatcherClosedError";
}

/** The item's signal fired (its client hung up) before it ran: it was dropped from the queue. */
export class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
}

export interface BatcherOptions<I, O> {
  /** Most items handed to one `run` call; 1 turns batching off. */
  maxBatch: number;
  /** How long the first waiting item may wait for company before its batch runs anyway. */
  maxWaitMs: number;
  /** Items allowed to wait (not counting the batch being run); more are refused with QueueFullError. */
  maxQueue: number;
  /** Per item, from submit to result: waiting plus running. */
  timeoutMs: number;
  /** Must return one output per item, same order. */
  run: (items: I[]) => Promise<O[]>;
  /** Called after each batch with its size and duration, for metrics. */
  onBatch?: (size: number, ms: number) => void;
}

export interface BatchOutcome<O> {
  output: O;
  /** Time spent waiting before the batch started. */
  queueMs: number;
  /** Duration of the whole batch this item ran in. */
  runMs: number;
  batchSize: number;
}

interface Pending<I, O> {
  item: I;
  enqueuedAt: number;
  settled: boolean;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  resolve(outcome: BatchOutcome<O>): void;
  reject(error: Error): void;
}

/**
 * Collects concurrent requests into one model call: a batch starts when `maxBatch` items wait or the oldest
 * has waited `maxWaitMs`. Only one batch runs at a time, because the model is single-threaded (tfjs wasm):
 * a second concurrent call would only slow the first down.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = false;
  private closed = false;
  private waitTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BatcherOptions<I, O>) {
    if (!(options.maxBatch >= 1)) throw new RangeError(`maxBatch must be >= 1, got ${options.maxBatch}`);
    if (!(options.maxQueue >= 1)) throw new RangeError(`maxQueue must be >= 1, got ${options.maxQueue}`);
  }

  /** Items waiting for a batch (not those running). */
  get depth(): number {
    return this.queue.length;
  }

  /**
   * Queues an item. When `signal` aborts (the client hung up) while the item waits, it leaves the queue at
   * once and rejects with ClientGoneError, so work nobody will read never takes the model's time or a
   * queue place; an item already running finishes and its result is dropped.
   */
  submit(item: I, signal?: AbortSignal): Promise<BatchOutcome<O>> {
    if (this.closed) return Promise.reject(new BatcherClosedError("the server is shutting down"));
    if (signal?.aborted) return Promise.reject(new ClientGoneError("the client went away before its turn"));
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new QueueFullError(`queue full (${this.options.maxQueue} requests waiting)`));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending<I, O> = {
        item,
        enqueuedAt: performance.now(),
        settled: false,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.dequeue(pending);
          this.settle(pending, new ClientGoneError("the client went away before its turn"));
        },
        timer: setTimeout(() => {
          this.dequeue(pending);
          this.settle(pending, new QueueTimeoutError(`no result within ${this.options.timeoutMs} ms`));
        }, this.options.timeoutMs),
      };
      signal?.addEventListener("abort", pending.onAbort, { once: true });
      this.queue.push(pending);
      this.schedule();
    });
  }

  /** Refuses new items and fails the waiting ones; a running batch finishes. */
  close(): void {
    this.closed = true;
    clearTimeout(this.waitTimer);
    for (const pending of this.queue.splice(0)) {
      this.settle(pending, new BatcherClosedError("the server is shutting down"));
    }
  }

  private dequeue(pending: Pending<I, O>): void {
    const index = this.queue.indexOf(pending);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private settle(pending: Pending<I, O>, result: Error | BatchOutcome<O>): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    pending.signal?.removeEventListener("abort", pending.onAbort);
    if (result instanceof Error) pending.reject(result);
    else pending.resolve(result);
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const oldestWait = performance.now() - this.queue[0]!.enqueuedAt;
    if (this.queue.length >= this.options.maxBatch || oldestWait >= this.options.maxWaitMs) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      void this.runBatch();
      return;
    }
    if (this.waitTimer === undefined) {
      this.waitTimer = setTimeout(() => {
        this.waitTimer = undefined;
        this.schedule();
      }, this.options.maxWaitMs - oldestWait);
    }
  }

  private async runBatch(): Promise<void> {
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.running = true;
    const started = performance.now();
    try {
      const outputs = await this.options.run(batch.map((pending) => pending.item));
      if (outputs.length !== batch.length) {
        throw new Error(`batch run returned ${outputs.length} outputs for ${batch.length} items`);
      }
      const runMs = performance.now() - started;
      this.options.onBatch?.(batch.length, runMs);
      batch.forEach((pending, i) => {
        this.settle(pending, {
          output: outputs[i]!,
          queueMs: started - pending.enqueuedAt,
          runMs,
          batchSize: batch.length,
        });
      });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const pending of batch) this.settle(pending, failure);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
