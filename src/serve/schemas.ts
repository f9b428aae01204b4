import { z } from "zod";

/** Query string of POST /v1/captions. Numbers arrive as strings, hence coerce. */
export const captionQuerySchema = z
  .object({
    beam: z.coerce.number().int().min(1).max(10).optional(),
    alternatives: z.coerce.number().int().min(0).max(10).optional(),
    min_confidence: z.coerce.number().min(0).max(1).optional(),
  })
  .strict();

const alternativeSchema = z.object({ caption: z.string(), confidence: z.number().min(0).max(1) }).strict();

/** The answer of POST /v1/captions; checked before sending so the contract cannot drift silently. */
export const captionResponseSchema = z
  .object({
    caption: z.string(),
    confidence: z.number().min(0).max(1),
    alternatives: z.array(alternativeSchema),
    model: z.string(),
    timings_ms: z.object({ queue: z.number(), inference: z.number(), total: z.number() }).strict(),
    /** Images that shared this request's model call (1 when micro-batching is off or the server idle). */
    batch_size: z.number().int().positive(),
    tokens: z.array(z.string()),
    low_confidence: z.boolean().optional(),
    attention: z.array(z.array(z.number())).optional(),
    attention_grid: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
  })
  .strict();

export type CaptionResponse = z.infer<typeof captionResponseSchema>;

export const searchQuerySchema = z
  .object({
    q: z.string().trim().min(1).max(500),
    k: z.coerce.number().int().min(1).max(100).default(10),
    method: z.enum(["fts", "generative", "embedding", "fusion"]).optional(),
  })
  .strict();

export const searchResponseSchema = z
  .object({
    query: z.string(),
    results: z.array(z.object({ image: z.string(), score: z.number(), caption: z.string() }).strict()),
  })
  .strict();

export const errorResponseSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).strict() })
  .strict();
