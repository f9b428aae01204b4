/** Bad dataset input: names the file and, when known, the line, so the user can open the spot directly. */
export class DatasetError extends Error {
  readonly file: string;
  readonly line: number | undefined;

  constructor(file: string, line: number | undefined, problem: string) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${problem}`);
    this.name = "DatasetError";
    this.file = file;
    this.line = line;
  }
}

/** How many missing names an error or warning spells out before it just counts. */
export const MISSING_SHOWN = 5;

/** Every listed-but-absent image at once, so one run finds them all rather than one per run. */
export class MissingImagesError extends Error {
  readonly file: string;
  /** The missing images as the dataset names them (relative to the image folder when inside it), in order. */
  readonly missing: readonly string[];

  constructor(file: string, imageRoot: string, missing: readonly string[], total: number) {
    super(
      `${file}: ${missing.length} of ${total} images are missing on disk under ${imageRoot} (${listSome(missing)}). ` +
        "Point --images DIR at the image folder, or pass --skip-missing to leave them out.",
    );
    this.name = "MissingImagesError";
    this.file = file;
    this.missing = missing;
  }
}

/** "a, b, c and 12 more": enough names to recognise the pattern without flooding the terminal. */
export function listSome(names: readonly string[], shown = MISSING_SHOWN): string {
  const head = names.slice(0, shown).join(", ");
  return names.length > shown ? `${head} and ${names.length - shown} more` : head;
}
