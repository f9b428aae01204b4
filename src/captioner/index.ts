// Images in, captions out: preprocessing, the encoder, mirroring as a view policy, and the CaptionModel.
export {
  type CaptionTimings,
  ImageCaptioner,
  type LoadCaptionerOptions,
  loadCaptioner,
  type SettledCaption,
} from "./captioner.js";
export { captionEach, type Settled } from "./settle.js";
