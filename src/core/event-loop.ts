/**
 * Lets the event loop run its timers, I/O callbacks and signal handlers, then resumes. Long loops of
 * synchronous work (a training epoch: tfjs and onnxruntime compute synchronously, and awaiting an
 * already-resolved promise only runs microtasks) call it once per iteration; without it a SIGINT
 * handler (`captionkit reproduce` stops at Ctrl-C) waited for the whole training stage.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
