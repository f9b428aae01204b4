export { type BuildServerOptions, buildServer } from "./app.js";
export {
  type BatcherOptions,
  type BatchOutcome,
  MicroBatcher,
  QueueFullError,
  QueueTimeoutError,
} from "./batcher.js";
export { ApiError, type ApiErrorCode, type ErrorBody } from "./errors.js";
export { type ResolvedServeOptions, type ServeOptions, serveOptionsSchema } from "./options.js";
export { type CaptionResponse, captionResponseSchema } from "./schemas.js";
