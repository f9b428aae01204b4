import type { z } from "zod";

/** commander's camelCase option key back to the flag the user typed: minConfidence -> min-confidence. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Validates a command's flags with its zod schema; the first problem becomes `invalid option --name: why`. */
export function parseFlags<Schema extends z.ZodType>(schema: Schema, raw: unknown): z.output<Schema> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid option --${flagName(String(issue.path[0] ?? "?"))}: ${issue.message}`);
  }
  return parsed.data;
}
