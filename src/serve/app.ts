import { createServer } from "node:http";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { publicDir } from "../core/paths.js";
import type { Captioner } from "../generation/types.js";
import type { PhotoSearch } from "../search/types.js";
import { requireApiKey } from "./auth.js";
import { MicroBatcher } from "./batcher.js";
import { type CaptionJob, type CaptionOutcome, makeCaptionRunner } from "./caption-runner.js";
import { ApiError, clientErrorHandler, errorBody, toApiError } from "./errors.js";
import { createMetrics } from "./metrics.js";
import { type ServeOptions, serveOptionsSchema } from "./options.js";
import { captionRoutes } from "./routes/captions.js";
import { searchRoutes } from "./routes/search.js";

export interface BuildServerOptions extends ServeOptions {
  /** Loaded once by the caller and shared by all requests; the caller disposes it. */
  captioner: Captioner;
  /** An opened photo index: adds GET /v1/search and the page's search box. */
  search?: PhotoSearch;
  /** A pino logger (or fastify logger options); default: no logging. */
  logger?: FastifyBaseLogger | boolean;
}

/** Served with every response: the page loads nothing from elsewhere and shows uploads as blob: URLs. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * The captioning service as a fastify instance (not listening yet: call `listen`, or `inject` in tests).
 * It never fetches anything on behalf of clients: images arrive as request bodies only.
 */
export async function buildServer(input: BuildServerOptions): Promise<FastifyInstance> {
  const { captioner, search, logger, ...rest } = input;
  const parsed = serveOptionsSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid server option ${issue.path.join(".") || "?"}: ${issue.message}`);
  }
  const options = parsed.data;
  const loggerOption =
    logger === undefined || typeof logger === "boolean"
      ? { logger: logger ?? false }
      : { loggerInstance: logger };
  const app = Fastify({
    ...loggerOption,
    bodyLimit: options.bodyLimitBytes,
    clientErrorHandler: clientErrorHandler(options.requestTimeoutMs),
    // Node's own timers handle slow clients: requestTimeout answers 408 to an upload that has not finished in
    // time, the idle timeout drops a stalled socket. Node checks request timeouts every
    // connectionsCheckingInterval (30 s by default), so tighten it to match short limits.
    serverFactory: (handler) => {
      const server = createServer(
        {
          requestTimeout: options.requestTimeoutMs,
          headersTimeout: Math.min(options.requestTimeoutMs, 20_000),
          connectionsCheckingInterval: Math.max(50, Math.min(1000, options.requestTimeoutMs / 4)),
        },
        handler,
      );
      server.setTimeout(options.connectionTimeoutMs);
      return server;
    },
  });

  const batcher = new MicroBatcher<CaptionJob, CaptionOutcome>({
    maxBatch: options.maxBatch,
    maxWaitMs: options.maxWaitMs,
    maxQueue: options.maxQueue,
    timeoutMs: options.timeoutMs,
    run: makeCaptionRunner(captioner),
    onBatch: (size, ms) => {
      metrics.batchSize.observe(size);
      metrics.batchSeconds.observe(ms / 1000);
    },
  });
  const metrics = createMetrics(() => batcher.depth);
  app.addHook("onClose", async () => batcher.close());

  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === "internal")
      request.log.error({ err: error }, "request failed");
    else request.log.info({ code: apiError.code, status: apiError.status }, apiError.message);
    metrics.errors.inc({ code: apiError.code });
    return reply.status(apiError.status).headers(apiError.headers).send(errorBody(apiError));
  });
  app.setNotFoundHandler((request, reply) => {
    const apiError = new ApiError(
      404,
      "not_found",
      `no route ${request.method} ${request.url.split("?")[0]}`,
    );
    metrics.errors.inc({ code: apiError.code });
    return reply.status(404).send(errorBody(apiError));
  });
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.get("/healthz", async () => ({
    status: "ok",
    model: captioner.modelName,
    queue_depth: batcher.depth,
    search: search !== undefined,
    auth: options.apiKey !== undefined,
  }));
  app.get("/metrics", async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await app.register(async (api) => {
    if (options.apiKey !== undefined) api.addHook("onRequest", requireApiKey(options.apiKey));
    await api.register(captionRoutes, { batcher, options, modelName: captioner.modelName });
    await api.register(searchRoutes, { search, maxPixels: options.maxPixels });
  });

  await app.register(fastifyStatic, {
    root: publicDir(),
    prefix: "/",
    index: ["index.html"],
    wildcard: false,
  });
  return app;
}
