import { DatasetError } from "../errors.js";
import { locateJsonSyntaxError } from "../json-locate.js";
import type { DatasetFormat } from "../types.js";
import { jsonFormatOf, parseCoco, parseKarpathy } from "./json.js";
import { parseJsonl } from "./jsonl.js";
import { lineFormatOf, parseCaptionLines } from "./lines.js";
import type { ParsedDataset } from "./raw.js";

/** No JSONL line is this long; a first line this long is a one-line JSON document. */
const JSONL_LINE_LIMIT = 1_000_000;

const EXPECTED =
  "expected a Flickr token file (<image>#<n><TAB><caption>), a TSV (image<TAB>index<TAB>caption), " +
  'COCO captions JSON, Karpathy split JSON or JSONL ({"image", "captions"} per line)';

/**
 * Parses a dataset file, telling its format from the content rather than the extension
 * (Flickr's token file is `.txt`, the Karpathy and COCO files are both `.json`).
 */
export function parseDatasetText(rawText: string, file: string, format?: DatasetFormat): ParsedDataset {
  const text = rawText.replace(/^\uFEFF/, "");
  const first = firstContentLine(text);
  if (!first) throw new DatasetError(file, undefined, "the file is empty");
  const detected = format ?? detect(first.line, first.number, file);
  switch (detected) {
    case "flickr-token":
    case "tsv":
      return parseCaptionLines(text, file, detected);
    case "jsonl":
      return parseJsonl(text, file);
    default: {
      const value = parseJsonText(text, file);
      const shape = jsonFormatOf(value);
      if (shape === undefined || (detected !== "json" && shape !== detected)) {
        const wanted = detected === "json" ? "a known dataset" : `${detected} JSON`;
        throw new DatasetError(file, undefined, `the JSON does not look like ${wanted}: ${EXPECTED}`);
      }
      return shape === "coco" ? parseCoco(value, text, file) : parseKarpathy(value, text, file);
    }
  }
}

/** "json" stands for COCO or Karpathy, which need the whole document to tell apart. */
function detect(first: string, lineNumber: number, file: string): DatasetFormat | "json" {
  const trimmed = first.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    // A JSONL file's first line is a whole object with "image". The length cap keeps a one-line
    // Karpathy or COCO file (100+ MB) from being parsed twice just to learn it is not JSONL.
    const head = trimmed.length < JSONL_LINE_LIMIT ? tryParse(trimmed) : undefined;
    if (typeof head === "object" && head !== null && "image" in head) return "jsonl";
    return "json";
  }
  const lineFormat = lineFormatOf(first);
  if (lineFormat) return lineFormat;
  const shown = first.length > 80 ? `${first.slice(0, 80)}...` : first;
  throw new DatasetError(
    file,
    lineNumber,
    `cannot tell the format from ${JSON.stringify(shown)}: ${EXPECTED}`,
  );
}

/** First line with content and its 1-based number, found without splitting a large file into lines. */
function firstContentLine(text: string): { line: string; number: number } | undefined {
  let start = 0;
  let number = 1;
  while (start < text.length) {
    const end = text.indexOf("\n", start);
    const line = text.slice(start, end < 0 ? text.length : end).replace(/\r$/, "");
    if (line.trim() !== "") return { line, number };
    if (end < 0) break;
    start = end + 1;
    number += 1;
  }
  return undefined;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** JSON.parse with a file:line:column error instead of V8's position-less message. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const spot = locateJsonSyntaxError(text);
    const detail = spot ? `column ${spot.column}: ${spot.problem}` : (error as Error).message;
    throw new DatasetError(file, spot?.line, `invalid JSON (${detail})`);
  }
}
