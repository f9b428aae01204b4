// Constants the CLI needs before it loads sharp (command registration): keep this module import-free.

/** Refuse images above 40 megapixels unless told otherwise: a 10,000 x 4,000 photo still passes. */
export const DEFAULT_MAX_PIXELS = 40_000_000;
