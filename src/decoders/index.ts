export type {
  CaptionDecoder,
  DecoderConfig,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
  ShowAttendTellConfig,
  TransformerDecoderConfig,
} from "./types.js";
