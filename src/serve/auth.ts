import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ApiError } from "./errors.js";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Returns an onRequest hook that demands the key. Both sides are hashed first so that timingSafeEqual gets
 * equal lengths and the comparison time does not reveal the key's length either.
 */
export function requireApiKey(apiKey: string): (request: FastifyRequest) => Promise<void> {
  const expected = digest(apiKey);
  return async (request) => {
    const header = request.headers.authorization;
    const bearer =
      typeof header === "string" && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    const xKey = request.headers["x-api-key"];
    const given = bearer ?? (typeof xKey === "string" ? xKey : undefined);
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new ApiError(
        401,
        "unauthorized",
        "missing or wrong API key (send Authorization: Bearer <key> or X-API-Key)",
        {
          "www-authenticate": 'Bearer realm="captionkit"',
        },
      );
    }
  };
}
