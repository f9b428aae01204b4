/**
 * Child process for the crash test (crash.test.ts): indexes a folder slowly and reports each
 * committed batch on stdout, so the parent can SIGKILL it mid-run. Args: folder, db[, embedding dir].
 */
import { openDatabase } from "./db/schema.js";
import { PhotoStore } from "./db/store.js";
import { indexFolder } from "./indexer.js";
import { loadEmbeddingWithId } from "./models.js";
import { ColourPipeline } from "./test-fixtures.js";

const [folder, db, embeddingDir] = process.argv.slice(2) as [string, string, string | undefined];
const store = new PhotoStore(openDatabase(db));
const embedding = embeddingDir ? await loadEmbeddingWithId(embeddingDir) : undefined;
await indexFolder(store, folder, new ColourPipeline(embedding, 150), {
  batchSize: 2,
  onProgress: ({ done }) => process.stdout.write(`done ${done}\n`),
});
process.stdout.write("finished\n");
