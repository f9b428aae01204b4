#!/usr/bin/env node
// Before anything loads onnxruntime-node: its telemetry writes under ~/.cache and /tmp and crashes on a
// long command line (see src/core/onnxruntime.ts). Static imports run before this module's body, so
// the CLI is imported dynamically, after the variable is set.
process.env.ORT_DISABLE_TELEMETRY = "1";
const { main } = await import("../dist/cli/main.js");

main(process.argv).catch((error) => {
  process.stderr.write(`captionkit: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
