import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../search/db/schema.js";
import { PhotoStore } from "../search/db/store.js";
import { indexFolder } from "../search/indexer.js";
import { openPhotoSearch } from "../search/photo-search.js";
import { ColourPipeline, tempDir, writeColourImage } from "../search/test-fixtures.js";
import type { PhotoSearch } from "../search/types.js";
import { buildServer } from "./app.js";
import { errorResponseSchema, searchResponseSchema } from "./schemas.js";
import { fakeCaptioner } from "./test-utils/fake-captioner.js";

describe("search and thumbnails over a real photo index", () => {
  let dir: string;
  let search: PhotoSearch;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = await tempDir();
    const photos = path.join(dir, "photos");
    await mkdir(path.join(photos, "2024"), { recursive: true });
    await writeColourImage(path.join(photos, "red.png"), [220, 20, 20]);
    await writeColourImage(path.join(photos, "2024", "blue.png"), [30, 40, 220]);
    await writeColourImage(path.join(photos, "2024", "gone.png"), [30, 40, 220]);
    const db = path.join(dir, "photos.sqlite");
    const store = new PhotoStore(openDatabase(db));
    await indexFolder(store, photos, new ColourPipeline(), { recursive: true });
    store.db.close();
    await rm(path.join(photos, "2024", "gone.png"));
    search = await openPhotoSearch(db, { defaultMethod: "fts" });
    app = await buildServer({ captioner: fakeCaptioner(), search });
  });
  afterAll(async () => {
    await app?.close();
    search?.close();
  });

  it("answers with ids, paths relative to the indexed folder and thumbnail links", async () => {
    const response = await app.inject({ url: "/v1/search?q=blue%20square&k=5" });
    expect(response.statusCode).toBe(200);
    const body = searchResponseSchema.parse(response.json());
    expect(body.folder).toBe(path.join(dir, "photos"));
    const blue = body.results.find((r) => r.path === path.join("2024", "blue.png"));
    expect(blue).toMatchObject({
      image: path.join(dir, "photos", "2024", "blue.png"),
      caption: "A blue square.",
      thumbnail: `/v1/images/${blue?.id}/thumbnail`,
    });
  });

  it("serves a small JPEG thumbnail by image id", async () => {
    const { results } = searchResponseSchema.parse((await app.inject({ url: "/v1/search?q=red" })).json());
    const red = results.find((r) => r.path === "red.png")!;
    const response = await app.inject({ url: red.thumbnail });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("image/jpeg");
    const meta = await sharp(response.rawPayload).metadata();
    expect(meta).toMatchObject({ format: "jpeg", width: 32, height: 32 });
    const { data } = await sharp(response.rawPayload).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(180); // still red
    expect(data[2]).toBeLessThan(80);
  });

  it("answers 404 JSON for an unknown id or a file gone since indexing, and takes nothing but an id", async () => {
    const unknown = await app.inject({ url: "/v1/images/999999/thumbnail" });
    expect(unknown.statusCode).toBe(404);
    expect(errorResponseSchema.parse(unknown.json()).error).toEqual({
      code: "not_found",
      message: "no image with id 999999 in the index",
    });
    const { results } = searchResponseSchema.parse(
      (await app.inject({ url: "/v1/search?q=blue&k=5" })).json(),
    );
    const gone = results.find((r) => r.path.endsWith("gone.png"))!;
    const missing = await app.inject({ url: gone.thumbnail });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.message).toMatch(/cannot be read \(not_found\)$/);
    expect(missing.body).not.toContain(dir);
    // Paths, traversal and extra parameters never reach the file system.
    for (const url of [
      "/v1/images/..%2F..%2F..%2Fetc%2Fpasswd/thumbnail",
      `/v1/images/${encodeURIComponent(path.join(dir, "photos", "red.png"))}/thumbnail`,
      "/v1/images/1.5/thumbnail",
      "/v1/images/-1/thumbnail",
      "/v1/images/1/thumbnail?path=/etc/passwd",
    ]) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(400);
      expect(errorResponseSchema.parse(response.json()).error.code).toBe("bad_request");
    }
    expect((await app.inject({ url: "/v1/images/../../etc/passwd/thumbnail" })).statusCode).toBe(404);
  });
});

describe("without a photo index", () => {
  it("answers /v1/search and thumbnails with how to start serve with --db", async () => {
    const app = await buildServer({ captioner: fakeCaptioner() });
    try {
      for (const url of ["/v1/search?q=dog", "/v1/images/1/thumbnail"]) {
        const response = await app.inject({ url });
        expect(response.statusCode).toBe(404);
        const { error } = errorResponseSchema.parse(response.json());
        expect(error.code).toBe("no_index");
        expect(error.message).toContain("captionkit serve --db");
      }
    } finally {
      await app.close();
    }
  });
});
