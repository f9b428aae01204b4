import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The folder holding captionkit's package.json, from this file's location (works from src/ and dist/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name;
      if (name === "captionkit") {
        root = dir;
        return dir;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the captionkit package root above this module");
    dir = parent;
  }
}

/** The shipped default caption model. */
export function defaultModelDir(): string {
  return path.join(packageRoot(), "models", "default");
}

/** The shipped search embedding. */
export function defaultEmbeddingDir(): string {
  return path.join(packageRoot(), "models", "embedding");
}

/** The web page's files stay in src/serve/public (tsc does not copy them). */
export function publicDir(): string {
  return path.join(packageRoot(), "src", "serve", "public");
}

/**
 * Where built ONNX graphs (decoders and converted encoders) are kept: $CAPTIONKIT_ONNX_CACHE, else
 * $XDG_CACHE_HOME/captionkit/onnx, else ~/.cache/captionkit/onnx. The only thing captionkit writes
 * outside the outputs a user names.
 */
export function onnxCacheDir(): string {
  const own = process.env.CAPTIONKIT_ONNX_CACHE;
  if (own) return own;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "captionkit", "onnx");
}
