/** A progress report a long library call makes; the CLI passes a terminal bar, other callers nothing. */
export interface Progress {
  increment(by?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** Starts a Progress for a job of `total` units. */
export type ProgressFactory = (label: string, total: number, options?: { unit?: string }) => Progress;

/** The default: report nothing. */
export const noProgress: ProgressFactory = () => ({ increment() {}, stop() {} });
