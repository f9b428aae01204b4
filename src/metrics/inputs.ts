import { z } from "zod";

/**
 * The file shapes `captionkit score` accepts, turned into the metrics' layout (id -> caption,
 * id -> captions). Ids are strings; numeric COCO image ids become their decimal strings.
 */

const imageId = z.union([z.string(), z.number().int()]).transform(String);

const candidateMap = z.record(z.string(), z.string());
const cocoResults = z.array(z.looseObject({ image_id: imageId, caption: z.string() }));
const referenceMap = z.record(z.string(), z.array(z.string()));
const cocoAnnotations = z.looseObject({
  images: z.array(z.looseObject({ id: imageId })).optional(),
  annotations: z.array(z.looseObject({ image_id: imageId, caption: z.string() })),
});

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.message} at ${issue.path.join(".") || "the top level"}` : "invalid shape";
}

/** Candidates: `{"<id>": "caption"}` or COCO results `[{"image_id", "caption"}]`. */
export function parseCandidates(value: unknown, file: string): Map<string, string> {
  const asMap = candidateMap.safeParse(value);
  if (asMap.success) return nonEmpty(new Map(Object.entries(asMap.data)), file, "candidates");
  const asResults = cocoResults.safeParse(value);
  if (!asResults.success) {
    throw new Error(
      `${file}: expected candidates as {"<id>": "caption"} or [{"image_id", "caption"}] (${describe(asResults.error)})`,
    );
  }
  const candidates = new Map<string, string>();
  for (const { image_id, caption } of asResults.data) {
    if (candidates.has(image_id)) {
      throw new Error(`${file}: image_id ${image_id} has more than one caption; keep one per image`);
    }
    candidates.set(image_id, caption);
  }
  return nonEmpty(candidates, file, "candidates");
}

/** References: `{"<id>": ["ref", ...]}` or a COCO captions annotation file. */
export function parseReferences(value: unknown, file: string): Map<string, string[]> {
  const asMap = referenceMap.safeParse(value);
  if (asMap.success) {
    const references = new Map(Object.entries(asMap.data));
    for (const [id, refs] of references) {
      if (refs.length === 0) throw new Error(`${file}: image "${id}" has an empty reference list`);
    }
    return nonEmpty(references, file, "references");
  }
  const asCoco = cocoAnnotations.safeParse(value);
  if (!asCoco.success) {
    throw new Error(
      `${file}: expected references as {"<id>": ["ref", ...]} or a COCO captions file with "annotations" (${describe(asCoco.error)})`,
    );
  }
  const references = new Map<string, string[]>();
  for (const { image_id, caption } of asCoco.data.annotations) {
    const refs = references.get(image_id) ?? [];
    refs.push(caption);
    references.set(image_id, refs);
  }
  return nonEmpty(references, file, "references");
}

function nonEmpty<T>(map: Map<string, T>, file: string, what: string): Map<string, T> {
  if (map.size === 0) throw new Error(`${file}: no ${what} found; the file is empty`);
  return map;
}

/** Throws when candidates name images the references do not have (lists up to five). */
export function checkCoverage(
  candidates: ReadonlyMap<string, string>,
  references: ReadonlyMap<string, string[]>,
) {
  const missing = [...candidates.keys()].filter((id) => !references.has(id));
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 5)
      .map((id) => `"${id}"`)
      .join(", ");
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : "";
    throw new Error(
      `${missing.length} candidate image id(s) have no references: ${shown}${more}; check that both files use the same ids`,
    );
  }
}
