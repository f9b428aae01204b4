export type { FeatureReader } from "./types.js";
