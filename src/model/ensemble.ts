import { createHash } from "node:crypto";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { Vocabulary } from "../data/vocabulary.js";
import { EnsembleDecoder, gridPoolBetween } from "../decoders/ensemble.js";
import {
  ENSEMBLE_FORMAT,
  type EnsembleFile,
  type EnsembleMeta,
  ensembleFileSchema,
  type LoadedModel,
  MODEL_FILE,
  type ModelFile,
} from "./format.js";
import { loadSingleModel, readModelFile } from "./single.js";

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
export async function loadEnsemble(dir: string, json: unknown): Promise<LoadedModel> {
  const { members, meta, vocabulary, weightsDigest } = await readEnsemble(dir, json, loadSingleModel, (m) =>
    m.decoder.dispose(),
  );
  return { decoder: new EnsembleDecoder(members.map((m) => m.decoder)), vocabulary, meta, weightsDigest };
}

/**
 * Reads an ensemble folder's members with `readMember` (the single-model loader or reader), checked to
 * share vocabulary, preprocessing and grid; `release` frees the members read so far on failure.
 */
export async function readEnsemble<M extends Omit<LoadedModel, "decoder"> & { file: ModelFile }>(
  dir: string,
  json: unknown,
  readMember: (dir: string) => Promise<M>,
  release: (member: M) => void = () => {},
): Promise<Omit<LoadedModel, "decoder"> & { members: M[] }> {
  const parsed = ensembleFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path.join(dir, MODEL_FILE)} is not a captionkit ensemble: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  const file = parsed.data;
  const members: M[] = [];
  try {
    for (const member of file.members) {
      const loaded = await readMember(path.resolve(dir, member));
      const problem = members[0] && incompatibility(members[0].file, loaded.file);
      members.push(loaded);
      if (problem)
        throw new Error(`ensemble ${dir}: member ${member} cannot join ${file.members[0]}: ${problem}`);
    }
  } catch (err) {
    for (const m of members) release(m);
    throw err;
  }
  const first = members[0]!;
  return {
    members,
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
 * Each member must be a single model folder (nested ensembles are refused).
 */
export async function saveEnsemble(
  dir: string,
  memberDirs: readonly string[],
  meta: EnsembleMeta,
): Promise<EnsembleFile> {
  if (memberDirs.length < 2) throw new Error("an ensemble needs at least two model folders");
  if (memberDirs.some((d) => path.resolve(d).startsWith(path.resolve(dir) + path.sep)))
    throw new Error(`write the ensemble to a new folder: ${dir} holds one of its members`);
  const files = await Promise.all(memberDirs.map((d) => readModelFile(d)));
  files.forEach((f, i) => {
    const problem = incompatibility(files[0]!, f);
    if (problem) throw new Error(`${memberDirs[i]} cannot join ${memberDirs[0]}: ${problem}`);
  });
  const members = memberDirs.map((_, i) => `member-${i + 1}`);
  if (meta.searchScorer !== undefined && members[meta.searchScorer] === undefined)
    throw new Error(`searchScorer ${meta.searchScorer} is not a member index (0-${members.length - 1})`);
  await mkdir(dir, { recursive: true });
  for (const [i, source] of memberDirs.entries()) {
    // copy into a temporary folder and rename it into place: a crash never leaves half a member
    const target = path.join(dir, members[i]!);
    const temp = `${target}.tmp-${process.pid}`;
    await rm(temp, { recursive: true, force: true });
    await mkdir(temp, { recursive: true });
    for (const name of [MODEL_FILE, files[i]!.weights.file])
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
    ...(meta.searchScorer !== undefined ? { searchScorer: members[meta.searchScorer] } : {}),
    metrics: meta.metrics ?? {},
    training: meta.training ?? {},
  };
  await writeFileAtomic(path.join(dir, MODEL_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}
