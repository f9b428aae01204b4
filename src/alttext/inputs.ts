import { stat } from "node:fs/promises";
import { extname, isAbsolute, join, resolve } from "node:path";
import { glob, isDynamicPattern } from "tinyglobby";

/** Extensions picked up when a folder is given; files named explicitly are always taken. */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif"] as const;

export function hasImageExtension(path: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

export interface ExpandOptions {
  /** Descend into subfolders of the folders given. Default false: only the folder's own files. */
  recursive?: boolean;
  cwd?: string;
}

/**
 * Turns the command line's files, folders and globs into image paths, in the order given (folders and
 * globs sorted), without duplicates. A path that does not exist is kept, so the batch reports it as an
 * error line instead of silently skipping it. Paths keep the form the user typed (relative stays relative).
 */
export async function expandInputs(
  inputs: readonly string[],
  options: ExpandOptions = {},
): Promise<string[]> {
  const cwd = options.cwd ?? process.cwd();
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (path: string) => {
    if (!seen.has(path)) {
      seen.add(path);
      out.push(path);
    }
  };
  for (const input of inputs) {
    const info = await stat(resolve(cwd, input)).catch(() => undefined);
    if (info?.isDirectory()) {
      const pattern = options.recursive ? "**/*" : "*";
      const found = await glob(pattern, {
        cwd: resolve(cwd, input),
        onlyFiles: true,
        dot: false,
        followSymbolicLinks: false,
      });
      for (const file of found.filter(hasImageExtension).sort()) add(join(input, file));
    } else if (!info && isDynamicPattern(input)) {
      const found = await glob(input, {
        cwd,
        onlyFiles: true,
        expandDirectories: false,
        absolute: isAbsolute(input),
      });
      for (const file of found.sort()) add(file);
    } else {
      add(input);
    }
  }
  return out;
}
