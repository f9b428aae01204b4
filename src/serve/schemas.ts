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
    /** The folder holding every indexed image; `path` is relative to it. */
    folder: z.string().optional(),
    results: z.array(
      z
        .object({
          id: z.number().int(),
          /** The indexed (absolute) path on the server. */
          image: z.string(),
          path: z.string(),
          score: z.number(),
          caption: z.string(),
          /** GET it for a small JPEG of the image. */
          thumbnail: z.string(),
        })
        .strict(),
    ),
  })
  .strict();

/** For routes that take no query string: any key is a 400, not silently ignored. */
export const noQuerySchema = z.object({}).strict();

/** Route parameter of /v1/images/:id/...: a whole number, the image's id in the index; nothing else. */
export const imageIdSchema = z
  .object({
    id: z.coerce
      .number()
      .int()
      .positive()
      .max(2 ** 53),
  })
  .strict();

export const errorResponseSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).strict() })
  .strict();
