import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { BUFFER_NAME, ImageError, probeImage } from "../../image/index.js";
import {
  BatcherClosedError,
  ClientGoneError,
  type MicroBatcher,
  QueueFullError,
  QueueTimeoutError,
} from "../batcher.js";
import type { CaptionJob, CaptionOutcome } from "../caption-runner.js";
import { ApiError, toApiError } from "../errors.js";
import type { ResolvedServeOptions } from "../options.js";
import { type CaptionResponse, captionQuerySchema, captionResponseSchema } from "../schemas.js";
import { parseWith } from "../validate.js";

export interface CaptionRouteDeps {
  batcher: MicroBatcher<CaptionJob, CaptionOutcome>;
  options: ResolvedServeOptions;
  modelName: string;
}

const ACCEPTED =
  "an image/* or application/octet-stream body, or multipart/form-data with a file field named image";

/** The raw-body and multipart parsers live only in this plugin, so no other route accepts uploads. */
export async function captionRoutes(app: FastifyInstance, deps: CaptionRouteDeps): Promise<void> {
  const { options } = deps;
  app.removeAllContentTypeParsers();
  const passThrough = { parseAs: "buffer" as const, bodyLimit: options.bodyLimitBytes };
  app.addContentTypeParser("application/octet-stream", passThrough, (_request, body, done) =>
    done(null, body),
  );
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+(?:\s*;.*)?$/i, passThrough, (_request, body, done) =>
    done(null, body),
  );
  await app.register(multipart, {
    limits: { fileSize: options.bodyLimitBytes, files: 1, fields: 4, parts: 5, headerPairs: 50 },
  });

  app.post("/v1/captions", async (request, reply) => {
    const started = performance.now();
    const gone = hangUpSignal(reply);
    const query = parseWith(captionQuerySchema, request.query, "query string");
    const bytes = await readUpload(request);
    await probeImage(bytes, { maxPixels: options.maxPixels }).catch((error: unknown) => {
      if (error instanceof ImageError && error.code === "too_many_pixels") {
        throw new ImageError(
          error.code,
          BUFFER_NAME,
          `${error.message.replace(/^<buffer>: /, "")}; this server's limit is set with \`captionkit serve --max-pixels\``,
        );
      }
      throw error;
    });
    const job: CaptionJob = {
      bytes,
      beam: query.beam ?? options.beam,
      alternatives: query.alternatives ?? options.alternatives,
      maxPixels: options.maxPixels,
    };
    let outcome: Awaited<ReturnType<typeof deps.batcher.submit>>;
    try {
      outcome = await deps.batcher.submit(job, gone);
    } catch (error) {
      throw queueError(error, options.retryAfterSeconds);
    }
    if (!outcome.output.ok) throw outcome.output.error;
    const result = outcome.output.result;
    const minConfidence = query.min_confidence ?? options.minConfidence;
    const response: CaptionResponse = {
      caption: result.caption,
      confidence: result.confidence,
      alternatives: result.alternatives,
      model: deps.modelName,
      timings_ms: {
        queue: round(outcome.queueMs, 1),
        inference: round(outcome.runMs, 1),
        total: round(performance.now() - started, 1),
      },
      batch_size: outcome.batchSize,
      tokens: result.tokens,
      ...(minConfidence === undefined ? {} : { low_confidence: result.confidence < minConfidence }),
      ...(result.attention && result.attentionGrid
        ? {
            attention: result.attention.map((row) => row.map((v) => round(v, 4))),
            attention_grid: result.attentionGrid,
          }
        : {}),
    };
    request.log.info(
      { bytes: bytes.byteLength, batch_size: outcome.batchSize, timings_ms: response.timings_ms },
      "captioned",
    );
    reply.header("cache-control", "no-store");
    return captionResponseSchema.parse(response);
  });
}

/**
 * Aborts when the client hangs up before its answer is sent: the response's connection closes unfinished.
 * (Checked again at submit, so a client that left while its upload was being checked never queues.)
 */
function hangUpSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (response.socket?.destroyed) controller.abort();
  else response.once("close", () => response.writableFinished || controller.abort());
  return controller.signal;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function queueError(error: unknown, retryAfterSeconds: number): ApiError {
  const retry = { "retry-after": String(retryAfterSeconds) };
  if (error instanceof QueueFullError)
    return new ApiError(503, "queue_full", `${error.message}; retry later`, retry);
  if (error instanceof QueueTimeoutError) return new ApiError(503, "timeout", error.message, retry);
  if (error instanceof BatcherClosedError) return new ApiError(503, "shutting_down", error.message, retry);
  // Nobody reads this answer; 499 (nginx's "client closed request") keeps it apart in logs and metrics.
  if (error instanceof ClientGoneError) return new ApiError(499, "client_gone", error.message);
  return toApiError(error);
}

function isAcceptedType(contentType: string): boolean {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "application/octet-stream" || type.startsWith("image/") || type === "multipart/form-data";
}

/** The uploaded image bytes, from a raw body or the multipart field `image`. */
async function readUpload(request: FastifyRequest): Promise<Uint8Array> {
  if (request.isMultipart()) return readMultipart(request);
  const contentType = request.headers["content-type"];
  if (contentType !== undefined && !isAcceptedType(contentType)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `content type ${contentType} not accepted; send ${ACCEPTED}`,
    );
  }
  const body = request.body;
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.byteLength === 0)) {
    throw new ImageError("empty", BUFFER_NAME, `empty request body; send ${ACCEPTED}`);
  }
  if (!Buffer.isBuffer(body)) {
    throw new ApiError(415, "unsupported_media_type", `send ${ACCEPTED}`);
  }
  return body;
}

async function readMultipart(request: FastifyRequest): Promise<Uint8Array> {
  try {
    const part = await request.file();
    if (!part)
      throw new ApiError(400, "missing_image", "multipart body has no file; add a file field named image");
    if (part.fieldname !== "image") {
      part.file.resume();
      throw new ApiError(400, "missing_image", `expected a file field named image, got "${part.fieldname}"`);
    }
    const bytes = await part.toBuffer();
    if (bytes.byteLength === 0)
      throw new ImageError("empty", BUFFER_NAME, "the uploaded file is empty (0 bytes)");
    return bytes;
  } catch (error) {
    if (error instanceof ApiError || error instanceof ImageError) throw error;
    const mapped = toApiError(error);
    // busboy reports broken multipart framing as plain errors without a status.
    if (mapped.status === 500)
      throw new ApiError(400, "malformed_multipart", `malformed multipart body: ${(error as Error).message}`);
    throw mapped;
  }
}
