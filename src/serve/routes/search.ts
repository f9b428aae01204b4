import type { FastifyInstance } from "fastify";
import type { PhotoSearch } from "../../search/types.js";
import { searchQuerySchema, searchResponseSchema } from "../schemas.js";
import { parseWith } from "../validate.js";

/** GET /v1/search?q=...&k=...: registered only when the server was given an opened photo index. */
export async function searchRoutes(app: FastifyInstance, deps: { search: PhotoSearch }): Promise<void> {
  app.get("/v1/search", async (request) => {
    const query = parseWith(searchQuerySchema, request.query, "query string");
    const { results } = await deps.search.search(query.q, {
      k: query.k,
      ...(query.method ? { method: query.method } : {}),
    });
    return searchResponseSchema.parse({
      query: query.q,
      results: results.map((r) => ({ image: r.image, score: r.score, caption: r.caption })),
    });
  });
}
