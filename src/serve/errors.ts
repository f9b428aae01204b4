import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { type ImageErrorCode, isImageError } from "../image/index.js";

/** Codes clients can branch on; the message is for people. */
export type ApiErrorCode =
  | ImageErrorCode
  | "bad_request"
  | "malformed_multipart"
  | "missing_image"
  | "unsupported_media_type"
  | "too_large"
  | "unauthorized"
  | "not_found"
  | "queue_full"
  | "timeout"
  | "shutting_down"
  | "client_gone"
  | "request_timeout"
  | "headers_too_large"
  | "no_index"
  | "internal";

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers, e.g. Retry-After on 503. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Image failures are the client's fault except a missing file (which cannot happen for uploaded bytes). A
 * 100-megapixel PNG is small on the wire, so a pixel-limit refusal is 422 (content refused), not 413.
 */
const IMAGE_STATUS: Record<ImageErrorCode, number> = {
  empty: 422,
  not_an_image: 422,
  corrupt: 422,
  too_many_pixels: 422,
  unsupported: 415,
  not_found: 500,
};

/** Fastify and @fastify/multipart error codes that mean "the client sent something wrong". */
const ACCEPTED =
  "send an image/* or application/octet-stream body, or multipart/form-data with a file field named image";

const FASTIFY_ERRORS: Record<string, { status: number; code: ApiErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: "too_large",
    message: "request body exceeds the size limit",
  },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: "too_large", message: "uploaded file exceeds the size limit" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: "unsupported_media_type",
    message: `content type not accepted; ${ACCEPTED}`,
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "bad_request" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "bad_request" },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: "unsupported_media_type" },
  FST_PARTS_LIMIT: { status: 400, code: "malformed_multipart" },
  FST_FILES_LIMIT: { status: 400, code: "malformed_multipart" },
  FST_FIELDS_LIMIT: { status: 400, code: "malformed_multipart" },
  FST_PROTO_VIOLATION: { status: 400, code: "malformed_multipart" },
};

/** Turns anything thrown while handling a request into a status and a JSON error body. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isImageError(error)) {
    // The library message starts with the file name, which for uploads is only "<buffer>".
    const message = error.message.replace(/^<buffer>: /, "");
    return new ApiError(IMAGE_STATUS[error.code], error.code, message);
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code in FASTIFY_ERRORS) {
    const mapped = FASTIFY_ERRORS[code]!;
    return new ApiError(mapped.status, mapped.code, mapped.message ?? (error as Error).message);
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new ApiError(status, "bad_request", (error as Error).message);
  }
  return new ApiError(500, "internal", "internal error (see the server log)");
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message } };
}

/**
 * Answers errors Node's HTTP parser meets before fastify sees a request (fastify's clientErrorHandler):
 * a request not received within requestTimeoutMs, oversized headers, broken HTTP. Same JSON body as every
 * other error, instead of fastify's own shape.
 */
export function clientErrorHandler(requestTimeoutMs: number) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    const apiError =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? new ApiError(
            408,
            "request_timeout",
            `the request was not received within ${requestTimeoutMs} ms; send the whole upload at once`,
          )
        : error.code === "HPE_HEADER_OVERFLOW"
          ? new ApiError(431, "headers_too_large", "request headers are too large")
          : new ApiError(400, "bad_request", "malformed HTTP request");
    const body = JSON.stringify(errorBody(apiError));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
