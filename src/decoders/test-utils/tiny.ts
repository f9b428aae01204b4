import type { TransformerDecoderConfig } from "../types.js";

/** A one-layer transformer small enough for tests that only check plumbing or exact arithmetic. */
export function tinyTransformer(maxLength = 10): TransformerDecoderConfig {
  return { kind: "transformer", layers: 1, modelDim: 8, heads: 2, feedForwardDim: 12, dropout: 0, maxLength };
}
