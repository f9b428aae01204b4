import path from "node:path";
import type { FastifyInstance } from "fastify";
import { ImageError, probeImage } from "../../image/index.js";
import type { PhotoSearch } from "../../search/types.js";
import { ApiError } from "../errors.js";
import { imageIdSchema, noQuerySchema, searchQuerySchema, searchResponseSchema } from "../schemas.js";
import { parseWith } from "../validate.js";

/** Longest side of a thumbnail, pixels: sharp on a small screen, a few kB each. */
export const THUMBNAIL_SIZE = 256;

export interface SearchRouteDeps {
  /** The opened photo index; without one, these routes say how to start the server with --db. */
  search?: PhotoSearch | undefined;
  maxPixels: number;
}

/**
 * GET /v1/search?q=...&k=... and GET /v1/images/:id/thumbnail. A thumbnail is found by the image's id in
 * the index, never by a path from the client, so nothing outside the index can be read through it.
 */
export async function searchRoutes(app: FastifyInstance, deps: SearchRouteDeps): Promise<void> {
  const { search } = deps;
  if (!search) {
    const noIndex = async () => {
      throw new ApiError(
        404,
        "no_index",
        "this server has no photo index; start it with `captionkit serve --db <index.sqlite>` " +
          "(build the index with `captionkit index <folder> --db <index.sqlite>`)",
      );
    };
    app.get("/v1/search", noIndex);
    app.get("/v1/images/:id/thumbnail", noIndex);
    return;
  }

  app.get("/v1/search", async (request) => {
    const query = parseWith(searchQuerySchema, request.query, "query string");
    const { results } = await search.search(query.q, {
      k: query.k,
      ...(query.method ? { method: query.method } : {}),
    });
    const folder = search.folder();
    return searchResponseSchema.parse({
      query: query.q,
      ...(folder === undefined ? {} : { folder }),
      results: results.map((r) => ({
        id: r.id,
        image: r.image,
        path: folder === undefined ? path.basename(r.image) : path.relative(folder, r.image),
        score: r.score,
        caption: r.caption,
        thumbnail: `/v1/images/${r.id}/thumbnail`,
      })),
    });
  });

  app.get("/v1/images/:id/thumbnail", async (request, reply) => {
    const { id } = parseWith(imageIdSchema, request.params, "image id");
    parseWith(noQuerySchema, request.query, "query string");
    const file = search.imagePath(id);
    if (file === undefined) throw new ApiError(404, "not_found", `no image with id ${id} in the index`);
    let jpeg: Buffer;
    try {
      const image = await probeImage(file, { maxPixels: deps.maxPixels });
      jpeg = await image
        .open()
        .rotate()
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside", withoutEnlargement: true })
        .flatten({ background: "#ffffff" })
        .jpeg({ quality: 80 })
        .toBuffer();
    } catch (error) {
      // The index outlives files: one moved or damaged since is "gone", not a server fault.
      const why = error instanceof ImageError ? error.code : "unreadable";
      throw new ApiError(
        404,
        "not_found",
        `image ${id} is in the index but its file cannot be read (${why})`,
      );
    }
    reply.type("image/jpeg").header("cache-control", "private, max-age=300");
    return jpeg;
  });
}
