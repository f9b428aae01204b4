export type { CaptionAlternative, Captioner, CaptionOptions, CaptionResult } from "./types.js";
