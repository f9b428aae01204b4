// Child process for the kill test: captions the folder in argv[2] into argv[3] with a slow fake model,
// so the parent can kill it mid-run.

import { fakeCaptioner } from "../../serve/test-utils/fake-captioner.js";
import { runCaption } from "../commands/caption.js";

const [folder, out] = process.argv.slice(2);
await runCaption(
  [folder!],
  { out: out!, concurrency: 1 },
  {
    loadCaptioner: async () => fakeCaptioner({ delayMs: 400 }),
    stdout: () => {},
    stderr: () => {},
  },
);
