// Public API in pipeline order; each stage is also reachable as its own subpath export.

// Use: the layers on top of the library (the alt-text and serve subpaths export the rest).
export { captionFiles } from "./alttext/index.js";
export * from "./data/index.js";
export * from "./decoders/index.js";
export * from "./encoders/index.js";
export * from "./features/index.js";
export * from "./generation/index.js";
export * from "./image/index.js";
export * from "./metrics/index.js";
export * from "./search/index.js";
export { buildServer } from "./serve/index.js";
export * from "./training/index.js";
