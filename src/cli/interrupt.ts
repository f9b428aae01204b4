/**
 * An AbortSignal that Ctrl-C (SIGINT) aborts, writing `notice` to stderr, while a long command runs;
 * release() removes the handler (then Ctrl-C ends the process again). The work checks the signal
 * between its steps, so an interrupted run keeps what it finished.
 */
export function abortOnSigint(notice?: string, reason?: Error): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (notice) process.stderr.write(`${notice}\n`);
    controller.abort(reason);
  };
  process.once("SIGINT", onSigint);
  return { signal: controller.signal, release: () => process.off("SIGINT", onSigint) };
}
