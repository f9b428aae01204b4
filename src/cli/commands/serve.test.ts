import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { encodeImage, solidImage } from "../../../test/fixtures/images.js";
import { writeTinyModel } from "../../alttext/test-utils/tiny-model.js";
import { parseServeFlags } from "./serve.js";

describe("captionkit serve flags", () => {
  it("takes the pixel limit as --max-pixels (or the older --max-megapixels) and names flags as typed", () => {
    expect(parseServeFlags({}).maxPixels).toBe(40_000_000);
    expect(parseServeFlags({ maxPixels: "120000000" }).maxPixels).toBe(120_000_000);
    expect(parseServeFlags({ maxMegapixels: "2.5" }).maxPixels).toBe(2_500_000);
    expect(() => parseServeFlags({ maxPixels: "1", maxMegapixels: "1" })).toThrow(/not both/);
    expect(() => parseServeFlags({ maxPixels: "-3" })).toThrow(/^invalid option --max-pixels: /);
    expect(() => parseServeFlags({ minConfidence: "2" })).toThrow(/^invalid option --min-confidence: /);
  });
});

const repoRoot = resolve(fileURLToPath(import.meta.url), "../../../..");
const bin = join(repoRoot, "bin", "captionkit.js");
const built = existsSync(join(repoRoot, "dist", "cli", "main.js"));
if (!built) console.log("skipping built-CLI serve test: dist/ is missing (run npm run build)");

describe.skipIf(!built)("captionkit serve (built CLI)", () => {
  it("serves captions with the API key from the environment and stops on SIGTERM", async () => {
    const model = await writeTinyModel();
    const child = spawn(
      process.execPath,
      [bin, "serve", "--port", "0", "--model", model, "--log-level", "warn"],
      {
        env: { ...process.env, CAPTIONKIT_API_KEY: "test-key" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      const origin = await new Promise<string>((done, fail) => {
        let stderr = "";
        child.stderr.on("data", (chunk) => {
          stderr += String(chunk);
          const match = stderr.match(/serving tiny-random at (http:\/\/127\.0\.0\.1:\d+)/);
          if (match) done(match[1]!);
        });
        child.on("exit", () => fail(new Error(`serve exited early: ${stderr}`)));
      });
      const png = await encodeImage(solidImage(64, 48, [200, 30, 30]), "png");
      const post = (headers: Record<string, string>) =>
        fetch(`${origin}/v1/captions`, {
          method: "POST",
          body: png,
          headers: { "content-type": "image/png", ...headers },
        });
      expect((await post({})).status).toBe(401);
      const ok = await post({ authorization: "Bearer test-key" });
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as { model: string; caption: string; attention_grid?: number[] };
      expect(body.model).toBe("tiny-random");
      expect(body.caption.length).toBeGreaterThan(0);
      expect(body.attention_grid).toEqual([7, 7]);
      const page = await fetch(`${origin}/`);
      expect(await page.text()).toContain("<h1>captionkit</h1>");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
