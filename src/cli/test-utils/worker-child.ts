// Child process for the queue tests: the real `captionkit worker` command, with each batch slowed by
// WORKER_DELAY_MS and announced on stderr ("processing N"), so the parent can kill it mid-batch.
import { DefaultPipeline } from "../../search/default-pipeline.js";
import { main } from "../main.js";

const delay = Number(process.env.WORKER_DELAY_MS ?? 0);
const original = DefaultPipeline.prototype.process;
DefaultPipeline.prototype.process = async function (this: DefaultPipeline, inputs) {
  process.stderr.write(`processing ${inputs.length}\n`);
  await new Promise((resolve) => setTimeout(resolve, delay));
  return original.call(this, inputs);
};
process.env.ORT_DISABLE_TELEMETRY = "1";
await main(["node", "captionkit", "worker", ...process.argv.slice(2)]);
