import { describe, expect, it } from "vitest";
import { hedge, presentCaption } from "./confidence.js";
import { formatCsvRow } from "./format.js";

describe("confidence marking", () => {
  it("hedges low-confidence captions instead of stating them as fact", () => {
    expect(hedge("A dog runs on the grass.")).toBe("Possibly: a dog runs on the grass.");
    expect(hedge("I see a dog.")).toBe("Possibly: I see a dog.");
    expect(hedge(hedge("A dog."))).toBe("Possibly: a dog.");
    expect(presentCaption("A dog.", 0.2, 0.5)).toBe("Possibly: a dog.");
    expect(presentCaption("A dog.", 0.7, 0.5)).toBe("A dog.");
    expect(presentCaption("A dog.", 0.1, undefined)).toBe("A dog.");
  });

  it("quotes CSV fields that need it", () => {
    const row = formatCsvRow({
      image: "my, photo.jpg",
      caption: 'A "big" dog.',
      confidence: 0.5,
      alternatives: [
        { caption: "A cat.", confidence: 0.2 },
        { caption: "A cow.", confidence: 0.1 },
      ],
    });
    expect(row).toBe('"my, photo.jpg","A ""big"" dog.",0.5000,,A cat. | A cow.,,');
  });
});
