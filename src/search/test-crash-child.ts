/**
 * Child process for the crash test (crash.test.ts): indexes a folder slowly and reports each
 * committed batch on stdout, so the parent can SIGKILL it mid-run.
 */
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { indexFolder } from "./indexer.js";
import { ColourPipeline } from "./test-fixtures.js";

const [folder, db] = process.argv.slice(2) as [string, string];
const store = new PhotoStore(openDatabase(db));
await indexFolder(store, folder, new ColourPipeline(undefined, 150), {
  batchSize: 2,
  onProgress: ({ done }) => process.stdout.write(`done ${done}\n`),
});
process.stdout.write("finished\n");
