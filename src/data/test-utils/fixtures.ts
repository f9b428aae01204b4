import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** A scratch folder under os.tmpdir(), removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-data-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes files given by path relative to `dir`, creating folders as needed. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** Image stand-ins: the loader only checks that files exist, decoding is the image stage's job. */
export function touchImages(folder: string, names: readonly string[]): void {
  writeFiles(folder, Object.fromEntries(names.map((name) => [name, "\xff\xd8\xff"])));
}

/** `image\tindex\tcaption` rows, five per image unless told otherwise. */
export function tsvRows(images: readonly string[], perImage = 5): string {
  return images
    .flatMap((image) =>
      Array.from({ length: perImage }, (_, i) => `${image}\t${i}\ta photo of ${image} number ${i}`),
    )
    .join("\n");
}
