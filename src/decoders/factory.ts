import { HeadedDecoder } from "./headed-decoder.js";
import { ShowAttendTellDecoder } from "./show-attend-tell.js";
import { TransformerDecoder } from "./transformer.js";
import type { CaptionDecoder, DecoderConfig, DecoderShape } from "./types.js";

/**
 * Builds a decoder with freshly initialised weights. The same config, shape and seed give bit-identical
 * weights on any backend (values are drawn in JS, not by tf.random*).
 */
export function createDecoder(config: DecoderConfig, shape: DecoderShape, seed = 1): CaptionDecoder {
  if (config.featureHead) {
    return HeadedDecoder.create(config, shape, (inner, innerShape) => createDecoder(inner, innerShape, seed));
  }
  switch (config.kind) {
    case "show-attend-tell":
      return new ShowAttendTellDecoder(config, shape, seed);
    case "transformer":
      return new TransformerDecoder(config, shape, seed);
    default: {
      const unknown: { kind?: unknown } = config;
      throw new Error(
        `unknown decoder kind ${String(unknown.kind)}: use "show-attend-tell" or "transformer"`,
      );
    }
  }
}
