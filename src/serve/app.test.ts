import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { encodeImage, quadrantImage, solidImage, truncatedJpeg } from "../../test/fixtures/images.js";
import type { PhotoSearch } from "../search/types.js";
import { buildServer } from "./app.js";
import { captionResponseSchema, errorResponseSchema } from "./schemas.js";
import { fakeCaptioner } from "./test-utils/fake-captioner.js";

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function server(options: Parameters<typeof buildServer>[0]): Promise<FastifyInstance> {
  const app = await buildServer(options);
  apps.push(app);
  return app;
}

const redPng = () => encodeImage(solidImage(40, 30, [255, 0, 0]), "png");

function multipartBody(field: string, filename: string, bytes: Buffer, type = "image/png") {
  const boundary = "----captionkit-test-boundary";
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } };
}

describe("POST /v1/captions", () => {
  it("captions a raw image body and answers the documented shape", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    const response = await app.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "image/png" },
      payload: await redPng(),
    });
    expect(response.statusCode).toBe(200);
    const body = captionResponseSchema.parse(response.json());
    expect(body.caption).toBe("A red square.");
    expect(body.model).toBe("fake-colour-v1");
    expect(body.alternatives).toHaveLength(2);
    expect(body.attention_grid).toEqual([7, 7]);
    expect(body.attention).toHaveLength(body.tokens.length);
    expect(body.timings_ms.total).toBeGreaterThanOrEqual(body.timings_ms.inference);
    expect(body).not.toHaveProperty("low_confidence");
  });

  it("accepts a multipart upload in the field image and any image/* or octet-stream type", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    const jpeg = await encodeImage(solidImage(20, 20, [0, 0, 255]), "jpeg");
    const multipart = await app.inject({
      method: "POST",
      url: "/v1/captions",
      ...multipartBody("image", "b.jpg", jpeg),
    });
    expect(multipart.statusCode).toBe(200);
    expect(multipart.json().caption).toBe("A blue square.");
    for (const type of ["application/octet-stream", "image/x-whatever", "image/jpeg; charset=binary"]) {
      const raw = await app.inject({
        method: "POST",
        url: "/v1/captions",
        headers: { "content-type": type },
        payload: jpeg,
      });
      expect(raw.statusCode, type).toBe(200);
    }
  });

  it("answers 400 for a multipart body without an image field or with broken framing", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    const wrongField = await app.inject({
      method: "POST",
      url: "/v1/captions",
      ...multipartBody("photo", "a.png", await redPng()),
    });
    expect(wrongField.statusCode).toBe(400);
    expect(wrongField.json().error.code).toBe("missing_image");
    const broken = await app.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      payload: '--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc',
    });
    expect(broken.statusCode).toBe(400);
    expect(errorResponseSchema.parse(broken.json()).error.code).toBe("malformed_multipart");
  });

  it("validates the query string: bad values and unknown keys are 400", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    for (const query of ["beam=0", "alternatives=abc", "colour=red", "min_confidence=2"]) {
      const response = await app.inject({
        method: "POST",
        url: `/v1/captions?${query}`,
        headers: { "content-type": "image/png" },
        payload: await redPng(),
      });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code).toBe("bad_request");
    }
    const ok = await app.inject({
      method: "POST",
      url: "/v1/captions?alternatives=0&min_confidence=0.99",
      headers: { "content-type": "image/png" },
      payload: await encodeImage(quadrantImage(32, 32), "png"),
    });
    expect(ok.json().alternatives).toEqual([]);
    expect(ok.json().low_confidence).toBe(true);
  });

  it("micro-batches concurrent requests into one model call, and not when maxBatch is 1", async () => {
    for (const maxBatch of [8, 1]) {
      const captioner = fakeCaptioner({ delayMs: 30 });
      const app = await server({ captioner, maxBatch, maxWaitMs: 20 });
      const png = await redPng();
      const responses = await Promise.all(
        Array.from({ length: 6 }, () =>
          app.inject({
            method: "POST",
            url: "/v1/captions",
            headers: { "content-type": "image/png" },
            payload: png,
          }),
        ),
      );
      expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
      if (maxBatch === 1) expect(captioner.calls).toEqual([1, 1, 1, 1, 1, 1]);
      else expect(Math.max(...captioner.calls)).toBeGreaterThan(1);
    }
  });

  it("a bad image in a batch fails only its own request", async () => {
    const captioner = fakeCaptioner({ delayMs: 20 });
    const app = await server({ captioner, maxBatch: 3, maxWaitMs: 1000 });
    const post = (payload: Buffer) =>
      app.inject({ method: "POST", url: "/v1/captions", headers: { "content-type": "image/jpeg" }, payload });
    const good = await encodeImage(solidImage(20, 20, [0, 160, 0]), "jpeg");
    // A truncated JPEG passes the header check, so it reaches the model and fails there.
    const responses = await Promise.all([post(good), post(await truncatedJpeg()), post(good)]);
    expect(responses.map((r) => r.statusCode)).toEqual([200, 422, 200]);
    expect(responses[1]!.json().error.code).toBe("corrupt");
    expect(captioner.calls[0]).toBe(3);
  });

  it("answers 503 with Retry-After when the queue is full, and 503 timeout when too slow", async () => {
    const app = await server({
      captioner: fakeCaptioner({ delayMs: 80 }),
      maxBatch: 1,
      maxWaitMs: 0,
      maxQueue: 1,
      retryAfterSeconds: 2,
    });
    const png = await redPng();
    const post = () =>
      app.inject({
        method: "POST",
        url: "/v1/captions",
        headers: { "content-type": "image/png" },
        payload: png,
      });
    const responses = await Promise.all([post(), post(), post(), post()]);
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    const refused = responses.filter((r) => r.statusCode === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.headers["retry-after"]).toBe("2");
    expect(refused[0]!.json().error.code).toBe("queue_full");

    const slow = await server({ captioner: fakeCaptioner({ delayMs: 300 }), timeoutMs: 50 });
    const timedOut = await slow.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "image/png" },
      payload: png,
    });
    expect(timedOut.statusCode).toBe(503);
    expect(timedOut.json().error.code).toBe("timeout");
  });
});

describe("API key", () => {
  it("requires the key on /v1 with a constant-time check, but not on /healthz or the page", async () => {
    const app = await server({ captioner: fakeCaptioner(), apiKey: "s3cret-key" });
    const png = await redPng();
    const post = (headers: Record<string, string>) =>
      app.inject({
        method: "POST",
        url: "/v1/captions",
        headers: { "content-type": "image/png", ...headers },
        payload: png,
      });
    const missing = await post({});
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe("unauthorized");
    expect(missing.headers["www-authenticate"]).toContain("Bearer");
    expect((await post({ authorization: "Bearer wrong" })).statusCode).toBe(401);
    expect((await post({ "x-api-key": "s3cret-key-and-more" })).statusCode).toBe(401);
    expect((await post({ authorization: "Bearer s3cret-key" })).statusCode).toBe(200);
    expect((await post({ "x-api-key": "s3cret-key" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/healthz" })).json().auth).toBe(true);
    expect((await app.inject({ url: "/" })).statusCode).toBe(200);
  });
});

describe("health, metrics, page, search", () => {
  it("reports requests, errors by code, latency and queue depth in Prometheus text", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    await app.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "image/png" },
      payload: await redPng(),
    });
    await app.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "image/png" },
      payload: "",
    });
    const health = await app.inject({ url: "/healthz" });
    expect(health.json()).toEqual({
      status: "ok",
      model: "fake-colour-v1",
      queue_depth: 0,
      search: false,
      auth: false,
    });
    const metrics = await app.inject({ url: "/metrics" });
    expect(metrics.headers["content-type"]).toContain("text/plain");
    const text = metrics.body;
    expect(text).toContain(
      'captionkit_http_requests_total{route="/v1/captions",method="POST",status="200"} 1',
    );
    expect(text).toContain(
      'captionkit_http_requests_total{route="/v1/captions",method="POST",status="422"} 1',
    );
    expect(text).toContain('captionkit_errors_total{code="empty"} 1');
    expect(text).toMatch(
      /captionkit_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/captions"\} 2/,
    );
    expect(text).toContain("captionkit_queue_depth 0");
    expect(text).toContain("captionkit_batch_size_count 1");
  });

  it("serves the page and its assets with a strict content security policy", async () => {
    const app = await server({ captioner: fakeCaptioner() });
    const page = await app.inject({ url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain('<html lang="en">');
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    const script = await app.inject({ url: "/app.js" });
    expect(script.headers["content-type"]).toContain("javascript");
    expect((await app.inject({ url: "/style.css" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/../package.json" })).statusCode).toBe(404);
  });

  it("adds GET /v1/search only when given a photo index", async () => {
    const without = await server({ captioner: fakeCaptioner() });
    expect((await without.inject({ url: "/v1/search?q=dog" })).json().error.code).toBe("no_index");
    const queries: Array<[string, number | undefined]> = [];
    const search: PhotoSearch = {
      async search(query, options) {
        queries.push([query, options?.k]);
        return {
          method: "embedding",
          results: [{ id: 7, image: "/photos/pets/a.jpg", score: 2, caption: "A dog.", good: true }],
          noGoodMatch: false,
        };
      },
      count: () => 1,
      imagePath: () => undefined,
      folder: () => "/photos",
      close() {},
    };
    const app = await server({ captioner: fakeCaptioner(), search });
    const response = await app.inject({ url: "/v1/search?q=dog%20on%20grass&k=3" });
    expect(response.json()).toEqual({
      query: "dog on grass",
      folder: "/photos",
      results: [
        {
          id: 7,
          image: "/photos/pets/a.jpg",
          path: "pets/a.jpg",
          score: 2,
          caption: "A dog.",
          thumbnail: "/v1/images/7/thumbnail",
        },
      ],
    });
    expect(queries).toEqual([["dog on grass", 3]]);
    expect((await app.inject({ url: "/v1/search" })).statusCode).toBe(400);
    expect((await app.inject({ url: "/healthz" })).json().search).toBe(true);
  });
});

describe("logging", () => {
  it("writes structured request logs without image bytes", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const app = await server({ captioner: fakeCaptioner(), logger: pino({ level: "info" }, sink) });
    const png = await redPng();
    await app.inject({
      method: "POST",
      url: "/v1/captions",
      headers: { "content-type": "image/png" },
      payload: png,
    });
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const captioned = records.find((r) => r.msg === "captioned");
    expect(captioned).toMatchObject({ bytes: png.length, batch_size: 1 });
    const all = lines.join("");
    expect(all).not.toContain(png.toString("base64").slice(0, 40));
    expect(all).not.toContain("\\u0089PNG");
    expect(all).not.toContain("IHDR");
  });
});
