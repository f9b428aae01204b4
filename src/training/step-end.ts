import { yieldToEventLoop } from "../core/event-loop.js";

/**
 * What both training loops (cross-entropy and SCST) do once an optimizer step is taken: write last.ckpt
 * every `checkpointEvery` steps, give the event loop a turn (tfjs and onnxruntime compute synchronously,
 * so signal handlers and timers wait for it), then call the caller's onStep. An onStep that throws stops
 * the run (Ctrl-C); the step is saved first unless it just was, so a resumed run starts from it.
 */
export async function endStep(
  step: number,
  checkpointEvery: number,
  saveLast: () => void,
  onStep?: () => void,
): Promise<void> {
  const saved = checkpointEvery > 0 && step % checkpointEvery === 0;
  if (saved) saveLast();
  await yieldToEventLoop();
  try {
    onStep?.();
  } catch (stop) {
    if (!saved) saveLast();
    throw stop;
  }
}
