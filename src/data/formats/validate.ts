import type { z } from "zod";
import { DatasetError } from "../errors.js";
import { formatJsonPath, locateJsonPath } from "../json-locate.js";

/**
 * Validates parsed JSON against a schema; on failure names the file, the line of the offending value
 * (found by re-scanning the text) and its JSON path, since real dataset JSON is often one long line.
 */
export function validateJson<T>(schema: z.ZodType<T>, value: unknown, text: string, file: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = formatJsonPath(issue.path);
  const spot = locateJsonPath(
    text,
    issue.path.filter((part): part is string | number => typeof part !== "symbol"),
  );
  throw new DatasetError(file, spot?.line, `${where ? `${where}: ` : ""}${tidy(issue.message)}`);
}

/** zod says "Invalid input: expected string, received undefined"; a missing field is the usual cause. */
function tidy(message: string): string {
  const plain = message.replace(/^Invalid input: /, "");
  return plain.endsWith("received undefined") ? `missing (${plain})` : plain;
}

/** Error for a value that passed the schema but breaks a cross-record rule (duplicate id, unknown id). */
export function jsonRecordError(
  text: string,
  file: string,
  path: (string | number)[],
  problem: string,
): DatasetError {
  return new DatasetError(file, locateJsonPath(text, path)?.line, `${formatJsonPath(path)}: ${problem}`);
}
