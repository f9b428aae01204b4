import type { z } from "zod";

/** Validates a command's flags with its zod schema; the first problem becomes `invalid option --name: why`. */
export function parseFlags<Schema extends z.ZodType>(schema: Schema, raw: unknown): z.output<Schema> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid option --${String(issue.path[0] ?? "?")}: ${issue.message}`);
  }
  return parsed.data;
}
