export type { EncodedBatch, Encoder, Normalization } from "./types.js";
