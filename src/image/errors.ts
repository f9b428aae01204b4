/** Why an image could not be turned into a tensor. Callers branch on `code`, users read `message`. */
export type ImageErrorCode =
  | "empty"
  | "not_an_image"
  | "corrupt"
  | "too_many_pixels"
  | "unsupported"
  | "not_found";

export const IMAGE_ERROR_CODES: readonly ImageErrorCode[] = [
  "empty",
  "not_an_image",
  "corrupt",
  "too_many_pixels",
  "unsupported",
  "not_found",
];

/** Name used in messages for inputs that arrived as bytes rather than a path. */
export const BUFFER_NAME = "<buffer>";

export class ImageError extends Error {
  override readonly name = "ImageError";
  readonly code: ImageErrorCode;
  /** The path as given, or "<buffer>". */
  readonly file: string;

  constructor(code: ImageErrorCode, file: string, detail: string, options?: { cause?: unknown }) {
    super(`${file}: ${detail}`, options);
    this.code = code;
    this.file = file;
  }
}

export function isImageError(value: unknown): value is ImageError {
  return value instanceof ImageError;
}

/**
 * Maps a libvips/sharp failure to a code. sharp only reports errors as free text, so this matches on the
 * messages it is known to produce; anything unrecognised is treated as a damaged file.
 */
export function fromSharpError(error: unknown, file: string): ImageError {
  if (error instanceof ImageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split("\n")[0] ?? message;
  if (/unsupported image format/i.test(message)) {
    return new ImageError("not_an_image", file, "not a recognised image format", { cause: error });
  }
  if (/pixel limit/i.test(message)) {
    return new ImageError("too_many_pixels", file, "image exceeds the pixel limit", { cause: error });
  }
  if (/Input file is missing|ENOENT/i.test(message)) {
    return new ImageError("not_found", file, "file not found", { cause: error });
  }
  return new ImageError("corrupt", file, `damaged or truncated image (${firstLine.trim()})`, {
    cause: error,
  });
}
