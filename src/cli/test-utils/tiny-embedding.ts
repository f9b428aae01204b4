import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mobilenetV2Mid } from "../../encoders/builtin.js";
import { saveJointEmbedding } from "../../search/embedding/io.js";
import { JointEmbedding } from "../../search/embedding/model.js";
import { TextFeaturizer } from "../../search/embedding/text-features.js";

/** A random joint embedding over the tiny model's encoder, so `index` runs without the shipped models. */
export async function writeTinyEmbedding(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "captionkit-tiny-embedding-"));
  const model = JointEmbedding.init(
    {
      encoder: mobilenetV2Mid.name,
      imageParts: [mobilenetV2Mid.pooledSize],
      imageHidden: [],
      wordDim: 4,
      textHidden: [],
      jointDim: 4,
    },
    new TextFeaturizer({ terms: ["dog", "red"] }),
  );
  await saveJointEmbedding(model, dir);
  return dir;
}
