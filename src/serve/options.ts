import { z } from "zod";
import { DEFAULT_MAX_PIXELS } from "../image/index.js";

/** Tunables of the HTTP service, each with its default; unknown keys are errors. */
export const serveOptionsSchema = z
  .object({
    /** Largest accepted request body (raw or multipart), bytes. */
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(20 * 1024 * 1024),
    /** Largest accepted image, width x height from its header (decompression-bomb guard). */
    maxPixels: z.number().int().positive().default(DEFAULT_MAX_PIXELS),
    /** Most images per model call; 1 turns micro-batching off. */
    maxBatch: z.number().int().min(1).max(64).default(8),
    /** How long a request may wait for others to share its model call. */
    maxWaitMs: z.number().min(0).max(1000).default(10),
    /** Requests allowed to wait for the model; beyond that the answer is 503 with Retry-After. */
    maxQueue: z.number().int().min(1).default(64),
    /** Per caption request, waiting plus model time; past it the answer is 503 "timeout". */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Time allowed to receive a whole request (slow or stalled uploads get 408 and are closed). */
    requestTimeoutMs: z.number().int().positive().default(30_000),
    /** Idle socket timeout. */
    connectionTimeoutMs: z.number().int().positive().default(30_000),
    /** Seconds suggested to clients in Retry-After when the queue is full. */
    retryAfterSeconds: z.number().int().min(1).default(1),
    /** Decoding defaults; a request may override them with ?beam= and ?alternatives=. */
    beam: z.number().int().min(1).max(10).default(3),
    alternatives: z.number().int().min(0).max(10).default(2),
    /** When set, answers carry "low_confidence": true below it (a request may pass ?min_confidence=). */
    minConfidence: z.number().min(0).max(1).optional(),
    /** When set, /v1/* requires it as `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
    apiKey: z.string().min(1).optional(),
  })
  .strict();

export type ServeOptions = z.input<typeof serveOptionsSchema>;
export type ResolvedServeOptions = z.output<typeof serveOptionsSchema>;
