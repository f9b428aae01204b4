import { connect } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bombPng,
  corruptPng,
  encodeImage,
  SVG_TEXT,
  solidImage,
  truncatedJpeg,
} from "../../test/fixtures/images.js";
import { buildServer } from "./app.js";
import { errorResponseSchema } from "./schemas.js";
import { fakeCaptioner } from "./test-utils/fake-captioner.js";

/** Against a real listening socket: what a hostile or broken client can send, and what it gets back. */
describe("bad input against a running server", () => {
  let app: FastifyInstance;
  let origin: string;
  let port: number;
  let good: Buffer;

  beforeAll(async () => {
    app = await buildServer({
      captioner: fakeCaptioner({ delayMs: 5 }),
      bodyLimitBytes: 256 * 1024,
      requestTimeoutMs: 1000,
      connectionTimeoutMs: 5000,
    });
    origin = await app.listen({ host: "127.0.0.1", port: 0 });
    port = Number(new URL(origin).port);
    good = await encodeImage(solidImage(32, 32, [0, 0, 255]), "jpeg");
  });
  afterAll(async () => {
    await app?.close();
  });

  async function post(
    body: Uint8Array | string | FormData | undefined,
    headers: Record<string, string> = {},
  ) {
    const response = await fetch(`${origin}/v1/captions`, { method: "POST", body, headers });
    const json = (await response.json()) as { caption?: string; error?: { code: string; message: string } };
    return { status: response.status, json };
  }
  const postGood = () => post(good, { "content-type": "image/jpeg" });
  const multipart = (bytes: Uint8Array | string, name: string, type: string) => {
    const form = new FormData();
    form.append("image", new Blob([bytes], { type }), name);
    return form;
  };

  it("answers each bad request with the right 4xx and code while good requests keep succeeding", async () => {
    const cases: Array<[string, () => ReturnType<typeof post>, number, string]> = [
      ["empty body", () => post(undefined), 422, "empty"],
      [
        "empty body with an image type",
        () => post(new Uint8Array(0), { "content-type": "image/png" }),
        422,
        "empty",
      ],
      [
        "zero-byte file (multipart)",
        () => post(multipart(new Uint8Array(0), "empty.jpg", "image/jpeg")),
        422,
        "empty",
      ],
      [
        "text file",
        () => post("just some words\n", { "content-type": "application/octet-stream" }),
        422,
        "not_an_image",
      ],
      [
        "text file (multipart)",
        () => post(multipart("words", "notes.txt", "text/plain")),
        422,
        "not_an_image",
      ],
      [
        "truncated JPEG",
        async () => post(await truncatedJpeg(), { "content-type": "image/jpeg" }),
        422,
        "corrupt",
      ],
      ["corrupt PNG", async () => post(await corruptPng(), { "content-type": "image/png" }), 422, "corrupt"],
      ["100-megapixel PNG", () => post(bombPng(), { "content-type": "image/png" }), 422, "too_many_pixels"],
      ["SVG", () => post(SVG_TEXT, { "content-type": "image/svg+xml" }), 415, "unsupported"],
      [
        "wrong content type",
        () => post(good, { "content-type": "text/plain" }),
        415,
        "unsupported_media_type",
      ],
      [
        "JSON with a URL to fetch",
        () => post('{"url":"http://127.0.0.1:1/x.jpg"}', { "content-type": "application/json" }),
        415,
        "unsupported_media_type",
      ],
      [
        "oversized raw body",
        () => post(Buffer.alloc(300 * 1024, 1), { "content-type": "image/jpeg" }),
        413,
        "too_large",
      ],
      [
        "oversized multipart file",
        () => post(multipart(Buffer.alloc(300 * 1024, 1), "big.jpg", "image/jpeg")),
        413,
        "too_large",
      ],
    ];
    const goodDuring = Array.from({ length: 4 }, () => postGood());
    const results = await Promise.all(cases.map(([, send]) => send()));
    results.forEach((result, i) => {
      const [name, , status, code] = cases[i]!;
      expect({ name, status: result.status, code: result.json.error?.code }).toEqual({ name, status, code });
      expect(result.json.error?.message.length).toBeGreaterThan(0);
    });
    for (const response of await Promise.all(goodDuring))
      expect(response).toMatchObject({ status: 200, json: { caption: "A blue square." } });
    expect(await postGood()).toMatchObject({ status: 200 });
  });

  it("says which server flag sets the pixel limit when an image is over it", async () => {
    const { status, json } = await post(bombPng(), { "content-type": "image/png" });
    expect(status).toBe(422);
    expect(json.error?.message).toMatch(
      /^\d+x\d+ = [\d.]+ megapixels exceeds the limit of 40\.0 megapixels; this server's limit is set with `captionkit serve --max-pixels`$/,
    );
  });

  it.each(["trickles", "stalls"])(
    "cuts off a client that sends headers and then %s, and keeps serving others",
    async (mode) => {
      const started = Date.now();
      const outcome = new Promise<{ response: string; ms: number }>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.write(
            "POST /v1/captions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n",
          );
          socket.write(good.subarray(0, 10));
        });
        // Trickle a byte every 200 ms: never idle long enough for the idle timeout, so only the request timeout can end it.
        let offset = 10;
        const trickle = setInterval(() => {
          if (mode === "trickles" && !socket.destroyed) socket.write(good.subarray(offset, ++offset));
        }, 200);
        let response = "";
        socket.on("data", (chunk) => {
          response += String(chunk);
        });
        socket.on("close", () => {
          clearInterval(trickle);
          resolve({ response, ms: Date.now() - started });
        });
        socket.on("error", () => {});
        setTimeout(() => reject(new Error("slow client was never cut off")), 8000);
      });
      // While the slow upload hangs, the server answers others.
      expect(await postGood()).toMatchObject({ status: 200 });
      const { response, ms } = await outcome;
      expect(response).toMatch(/^HTTP\/1\.1 408/);
      // The documented error body, like every other error.
      const body = JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
      expect(errorResponseSchema.parse(body).error).toEqual({
        code: "request_timeout",
        message: "the request was not received within 1000 ms; send the whole upload at once",
      });
      expect(ms).toBeLessThan(5000);
      expect(await postGood()).toMatchObject({ status: 200 });
      expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    },
  );
});
