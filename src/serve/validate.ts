import type { z } from "zod";
import { ApiError } from "./errors.js";

/** Parses request input with a zod schema; the first problem becomes a 400 that names the field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ApiError(400, "bad_request", `invalid ${what}: ${where}${issue?.message ?? "bad value"}`);
  }
  return parsed.data;
}
