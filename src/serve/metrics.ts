import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface ServerMetrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  latency: Histogram<"route">;
  errors: Counter<"code">;
  batchSize: Histogram;
  batchSeconds: Histogram;
}

/**
 * One registry per server instance (not prom-client's global one), so several servers in one process,
 * as in tests, keep separate counts.
 */
export function createMetrics(queueDepth: () => number): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "captionkit_" });
  const requests = new Counter({
    name: "captionkit_http_requests_total",
    help: "HTTP requests by route pattern, method and status code.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "captionkit_http_request_duration_seconds",
    help: "Time from request start to response sent, by route pattern.",
    labelNames: ["route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const errors = new Counter({
    name: "captionkit_errors_total",
    help: "Error responses by error code (the `error.code` of the JSON body).",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "captionkit_queue_depth",
    help: "Caption requests waiting for a model batch.",
    registers: [registry],
    collect() {
      this.set(queueDepth());
    },
  });
  const batchSize = new Histogram({
    name: "captionkit_batch_size",
    help: "Images per model call.",
    buckets: [1, 2, 4, 8, 16, 32],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: "captionkit_batch_duration_seconds",
    help: "Duration of one model call (a micro-batch).",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, requests, latency, errors, batchSize, batchSeconds };
}
