/** How pixels become model inputs: value = (pixel / 255 - mean[c]) / std[c], RGB order. */
export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

/*
 * Every preprocessing constant captionkit uses lives here, named by the range it gives, so train and
 * serve can never disagree about one.
 */

/** Pixels in [0, 1] (the built-in tfjs encoders' own graphs normalise further). */
export const UNIT_RANGE: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

/** Pixels in [0, 255] (CenterNet's graph expects raw values). */
export const BYTE_RANGE: Normalization = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

/** Pixels in [-1, 1] (augmentation previews). */
export const SIGNED_UNIT_RANGE: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
