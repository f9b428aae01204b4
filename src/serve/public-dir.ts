import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The web page's files stay in src/serve/public (tsc does not copy them), found from the package root so
 * that the same lookup works when running from src/ (tsx, vitest) and from dist/.
 */
export function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string };
      if (name === "captionkit") return join(dir, "src", "serve", "public");
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the captionkit package root for the web page files");
    dir = parent;
  }
}
