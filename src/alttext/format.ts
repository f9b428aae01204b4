import { hedge } from "./confidence.js";
import type { AltTextRecord } from "./types.js";

export type OutputFormat = "text" | "json" | "jsonl" | "csv";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["text", "json", "jsonl", "csv"];

/** The caption as a reader should see it: hedged when flagged low-confidence. */
export function displayCaption(record: AltTextRecord): string {
  const caption = record.caption ?? "";
  return record.low_confidence ? hedge(caption) : caption;
}

/** Text output: the bare caption for a single image, `path: caption` for several. Errors go elsewhere. */
export function formatText(record: AltTextRecord, withPath: boolean): string {
  return withPath ? `${record.image}: ${displayCaption(record)}` : displayCaption(record);
}

/** Says where a person's description was kept instead of written over, or undefined. */
export function keptNote(record: AltTextRecord): string | undefined {
  const kept = record.kept_description;
  if (!kept || kept.length === 0) return undefined;
  const where = kept.map((target) => (target === "xmp_sidecar" ? `${record.image}.xmp` : "the image file"));
  return `kept the description already in ${where.join(" and ")} (not written by captionkit); --overwrite replaces it`;
}

export const CSV_HEADER = "image,caption,confidence,low_confidence,alternatives,error,kept_description";

/** RFC 4180: quote every field that holds a comma, quote, or line break; double inner quotes. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCsvRow(record: AltTextRecord): string {
  return [
    record.image,
    record.caption ?? "",
    record.confidence === undefined ? "" : record.confidence.toFixed(4),
    record.low_confidence === undefined ? "" : String(record.low_confidence),
    (record.alternatives ?? []).map((a) => a.caption).join(" | "),
    record.error ?? "",
    (record.kept_description ?? []).join(" "),
  ]
    .map(csvField)
    .join(",");
}
