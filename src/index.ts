// Public API in pipeline order; each stage is also reachable as its own subpath export.
export * from "./data/index.js";
export * from "./decoders/index.js";
export * from "./encoders/index.js";
export * from "./features/index.js";
export * from "./generation/index.js";
export * from "./image/index.js";
export * from "./metrics/index.js";
export * from "./search/index.js";
export * from "./training/index.js";
