import { captionEach } from "../captioner/settle.js";
import type { Captioner, CaptionResult } from "../generation/types.js";

export interface CaptionJob {
  bytes: Uint8Array;
  beam: number;
  alternatives: number;
  /** The server's pixel limit, which the upload was checked against: the model must read it with the same. */
  maxPixels: number;
}

export type CaptionOutcome = { ok: true; result: CaptionResult } | { ok: false; error: unknown };

/**
 * Runs one micro-batch. Jobs with different decoding options go to separate captioner calls; one bad
 * image (one that passed the header check but fails to decode) fails only its own request.
 */
export function makeCaptionRunner(captioner: Captioner): (jobs: CaptionJob[]) => Promise<CaptionOutcome[]> {
  return async (jobs) => {
    const outcomes: CaptionOutcome[] = new Array(jobs.length);
    const groups = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      const key = `${job.beam}/${job.alternatives}/${job.maxPixels}`;
      const group = groups.get(key);
      if (group) group.push(i);
      else groups.set(key, [i]);
    });
    for (const indices of groups.values()) {
      const first = jobs[indices[0]!]!;
      const settled = await captionEach(
        captioner,
        indices.map((i) => jobs[i]!.bytes),
        { beam: first.beam, alternatives: first.alternatives, maxPixels: first.maxPixels },
      );
      indices.forEach((jobIndex, k) => {
        const one = settled[k]!;
        outcomes[jobIndex] = one.error ? { ok: false, error: one.error } : { ok: true, result: one.result };
      });
    }
    return outcomes;
  };
}
