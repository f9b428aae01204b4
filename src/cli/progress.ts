import { SingleBar } from "cli-progress";

import type { Progress } from "../core/progress.js";

export type { Progress };

/**
 * A progress bar with rate and ETA on stderr, so stdout stays clean for results. Silent when stderr is
 * not a terminal or for tiny jobs, where a bar is noise.
 */
export function startProgress(
  label: string,
  total: number,
  options: { unit?: string; minTotal?: number } = {},
): Progress {
  const unit = options.unit ?? "items";
  if (!process.stderr.isTTY || total < (options.minTotal ?? 4)) {
    return { increment() {}, stop() {} };
  }
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 50,
  });
  const startedAt = Date.now();
  let done = 0;
  bar.start(total, 0, { rate: "0.0" });
  return {
    increment(by = 1, payload = {}) {
      done += by;
      const seconds = Math.max((Date.now() - startedAt) / 1000, 1e-3);
      bar.increment(by, { rate: (done / seconds).toFixed(1), ...payload });
    },
    stop() {
      bar.stop();
    },
  };
}
