import { createHash } from "node:crypto";
import { copyFile, mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { Vocabulary } from "../data/vocabulary.js";
import { EnsembleDecoder, gridPoolBetween } from "./ensemble.js";
import type { LoadedModel, ModelFile } from "./model-io.js";

export const ENSEMBLE_FORMAT = "captionkit-ensemble";

/**
 * model.json of an ensemble folder: member model folders (subfolders, each a complete captionkit
 * model) whose next-word probabilities are averaged. Its encoder is the members' encoders joined
 * with "+", in member order, so one `a+b` encoder feeds every member its own slice; or `encoder` when
 * that join does not work as it is (a 7x7 member next to a 14x14 one reads the 14x14 encoder's
 * output averaged over 2x2 blocks, which is what centernet_448 is of centernet_448_grid14).
 */
export const ensembleFileSchema = z
  .object({
    format: z.literal(ENSEMBLE_FORMAT),
    version: z.literal(1),
    name: z.string().min(1),
    /** Member folders, relative to the ensemble folder. */
    members: z.array(z.string().min(1)).min(2),
    /** Encoder of the joined model; default: the members' encoders joined with "+". */
    encoder: z.string().min(1).optional(),
    /** Caption every image and its mirror image together by default (test-time mirroring; docs/generation.md). */
    mirror: z.boolean().default(false),
    metrics: z.record(z.string(), z.unknown()).default({}),
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type EnsembleFile = z.output<typeof ensembleFileSchema>;

/** What saveEnsemble records besides the members. */
export interface EnsembleMeta {
  name: string;
  /** Encoder of the joined model, when the members' encoders joined with "+" do not fit as they are. */
  encoder?: string;
  /** Caption with test-time mirroring by default. */
  mirror?: boolean;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

/** Why two members cannot be averaged, or undefined when they can. */
function incompatibility(first: ModelFile, other: ModelFile): string | undefined {
  if (first.vocabulary.tokens.join("\n") !== other.vocabulary.tokens.join("\n"))
    return "their vocabularies differ (members must be trained on one vocabulary)";
  if (
    first.preprocessing.size !== other.preprocessing.size ||
    first.preprocessing.fit !== other.preprocessing.fit
  )
    return "they preprocess images differently (input size or fit)";
  const [a, b] = [first.shape.regions, other.shape.regions];
  if (gridPoolBetween(Math.max(a, b), Math.min(a, b)) === undefined)
    return `their grids (${a} and ${b} regions) are neither equal nor k x k block means of one another`;
  return undefined;
}

/**
 * Loads an ensemble folder: each member with `loadMember` (the single-model loader), checked to share
 * vocabulary, preprocessing and grid.
 */
export async function loadEnsemble(
  dir: string,
  json: unknown,
  loadMember: (dir: string) => Promise<LoadedModel & { file: ModelFile }>,
): Promise<LoadedModel> {
  const parsed = ensembleFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path.join(dir, "model.json")} is not a captionkit ensemble: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  const file = parsed.data;
  const members: Array<LoadedModel & { file: ModelFile }> = [];
  try {
    for (const member of file.members) {
      const loaded = await loadMember(path.resolve(dir, member));
      const problem = members[0] && incompatibility(members[0].file, loaded.file);
      members.push(loaded);
      if (problem)
        throw new Error(`ensemble ${dir}: member ${member} cannot join ${file.members[0]}: ${problem}`);
    }
  } catch (err) {
    for (const m of members) m.decoder.dispose();
    throw err;
  }
  const first = members[0]!;
  return {
    decoder: new EnsembleDecoder(members.map((m) => m.decoder)),
    vocabulary: new Vocabulary(first.meta.vocabulary),
    meta: {
      name: file.name,
      encoder: file.encoder ?? members.map((m) => m.meta.encoder).join("+"),
      vocabulary: first.meta.vocabulary,
      preprocessing: first.meta.preprocessing,
      mirror: file.mirror,
      metrics: file.metrics,
      training: file.training,
    },
    weightsDigest: createHash("sha256")
      .update(members.map((m) => m.weightsDigest).join(","))
      .digest("hex"),
  };
}

/**
 * Writes an ensemble folder from model folders: each member's model.json and weights.bin are copied
 * into `<dir>/member-<i>` (so the folder moves as one piece), then the ensemble's model.json.
 * `readMember` validates a member folder (the single-model reader); nested ensembles are refused.
 */
export async function saveEnsemble(
  dir: string,
  memberDirs: readonly string[],
  meta: EnsembleMeta,
  readMember: (dir: string) => Promise<ModelFile>,
): Promise<EnsembleFile> {
  if (memberDirs.length < 2) throw new Error("an ensemble needs at least two model folders");
  if (memberDirs.some((d) => path.resolve(d).startsWith(path.resolve(dir) + path.sep)))
    throw new Error(`write the ensemble to a new folder: ${dir} holds one of its members`);
  const files = await Promise.all(memberDirs.map((d) => readMember(d)));
  files.forEach((f, i) => {
    const problem = incompatibility(files[0]!, f);
    if (problem) throw new Error(`${memberDirs[i]} cannot join ${memberDirs[0]}: ${problem}`);
  });
  const members = memberDirs.map((_, i) => `member-${i + 1}`);
  await mkdir(dir, { recursive: true });
  for (const [i, source] of memberDirs.entries()) {
    // copy into a temporary folder and rename it into place: a crash never leaves half a member
    const target = path.join(dir, members[i]!);
    const temp = `${target}.tmp-${process.pid}`;
    await rm(temp, { recursive: true, force: true });
    await mkdir(temp, { recursive: true });
    for (const name of ["model.json", files[i]!.weights.file])
      await copyFile(path.join(source, name), path.join(temp, name));
    await rm(target, { recursive: true, force: true });
    await rename(temp, target);
  }
  const file: EnsembleFile = {
    format: ENSEMBLE_FORMAT,
    version: 1,
    name: meta.name,
    members,
    ...(meta.encoder ? { encoder: meta.encoder } : {}),
    mirror: meta.mirror ?? false,
    metrics: meta.metrics ?? {},
    training: meta.training ?? {},
  };
  const target = path.join(dir, "model.json");
  await writeFile(`${target}.tmp`, `${JSON.stringify(file, null, 2)}\n`, { flush: true });
  await rename(`${target}.tmp`, target);
  return file;
}
