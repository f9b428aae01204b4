import type { Captioner, CaptionOptions, CaptionResult } from "../generation/types.js";

export type Settled = { result: CaptionResult; error?: undefined } | { error: Error; result?: undefined };

interface SettlingCaptioner extends Captioner {
  captionSettled(images: ReadonlyArray<string | Uint8Array>, options?: CaptionOptions): Promise<Settled[]>;
}

function canSettle(captioner: Captioner): captioner is SettlingCaptioner {
  return typeof (captioner as Partial<SettlingCaptioner>).captionSettled === "function";
}

/**
 * One outcome per image. A bad image must not fail its neighbours: captioners that report per-image
 * errors (captionSettled) do it in one call; for others a failed call is retried one image at a time.
 */
export async function captionEach(
  captioner: Captioner,
  images: ReadonlyArray<string | Uint8Array>,
  options: CaptionOptions,
): Promise<Settled[]> {
  if (canSettle(captioner)) {
    try {
      const settled = await captioner.captionSettled(images, options);
      if (settled.length === images.length) return settled;
    } catch {
      // fall through to one image at a time
    }
  } else {
    try {
      const results = await captioner.caption(images, options);
      if (results.length === images.length) return results.map((result) => ({ result }));
    } catch {
      // fall through to one image at a time
    }
  }
  const out: Settled[] = [];
  for (const image of images) {
    try {
      const [result] = await captioner.caption([image], options);
      out.push(result ? { result } : { error: new Error("the captioner returned no result") });
    } catch (error) {
      out.push({ error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return out;
}
