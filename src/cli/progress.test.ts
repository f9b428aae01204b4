import { describe, expect, it } from "vitest";
import { startProgress } from "./progress.js";
import { Screen } from "./test-utils/screen.js";

describe("startProgress on a terminal", () => {
  it("keeps lines logged during the run above the bar, in order, and what follows below it", () => {
    const screen = new Screen();
    const progress = startProgress("captioning", 3, { stream: screen as never, unit: "images", minTotal: 1 });
    progress.increment();
    progress.log("a.jpg: file not found\n");
    progress.increment();
    progress.log("b.jpg: not a recognised image format\n");
    progress.increment();
    progress.stop();
    screen.write("captionkit: 2 of 3 images failed\n");
    const lines = screen.text();
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 2)).toEqual(["a.jpg: file not found", "b.jpg: not a recognised image format"]);
    expect(lines[2]).toMatch(/^captioning \[=+\] 100% 3\/3 images/);
    expect(lines[3]).toBe("captionkit: 2 of 3 images failed");
  });

  it("draws nothing when hidden or off a terminal, and log() still prints", () => {
    for (const options of [{ hidden: true }, {}]) {
      const screen = new Screen();
      const stream = "hidden" in options ? screen : Object.assign(screen, { isTTY: false });
      const progress = startProgress("x", 10, { minTotal: 1, ...options, stream: stream as never });
      progress.increment();
      progress.log("one\n");
      progress.stop();
      expect(screen.text()).toEqual(["one"]);
    }
  });
});
