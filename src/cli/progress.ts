import { createRequire } from "node:module";
import type * as CliProgress from "cli-progress";
import type { Progress as LibraryProgress } from "../core/progress.js";

// Required on first use (a bar is drawn at most once per run): every command imports this module.
const require = createRequire(import.meta.url);

/** The library's progress report, plus printing a line above the bar. */
export interface Progress extends LibraryProgress {
  /** Prints a line (ending in \n) on the bar's stream above the bar, so the bar never covers it. */
  log(text: string): void;
}

export interface ProgressOptions {
  unit?: string;
  /** Below this many items there is no bar: it would be noise. Default 4. */
  minTotal?: number;
  /** Where the bar is drawn. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** No bar even on a terminal, e.g. when results are streaming to the same terminal on stdout. */
  hidden?: boolean;
}

/**
 * A progress bar with rate and ETA on stderr, so stdout stays clean for results. Silent when stderr is
 * not a terminal or for tiny jobs, where a bar is noise. cli-progress's MultiBar (with one bar) rather than
 * SingleBar: SingleBar saves the cursor position at start and jumps back to it at the end, so lines printed
 * during the run were overwritten by whatever came after; MultiBar prints log() lines above the bar.
 */
export function startProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const unit = options.unit ?? "items";
  const stream = options.stream ?? process.stderr;
  if (options.hidden || !stream.isTTY || total < (options.minTotal ?? 4)) {
    return { increment() {}, log: (text) => void stream.write(text), stop() {} };
  }
  const { MultiBar } = require("cli-progress") as typeof CliProgress;
  const bars = new MultiBar({
    format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
    stream: stream as NodeJS.WritableStream,
    hideCursor: true,
    etaBuffer: 50,
    // Redraw even when unchanged, so the bar comes back at once below a log() line.
    forceRedraw: true,
  });
  const bar = bars.create(total, 0, { rate: "0.0" });
  const startedAt = Date.now();
  let done = 0;
  return {
    increment(by = 1, payload = {}) {
      done += by;
      const seconds = Math.max((Date.now() - startedAt) / 1000, 1e-3);
      bar.increment(by, { rate: (done / seconds).toFixed(1), ...payload });
    },
    log(text) {
      bars.log(text);
      bars.update();
    },
    stop() {
      bars.update();
      bars.stop();
    },
  };
}
