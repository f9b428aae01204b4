import { describe, expect, it } from "vitest";
import { buildProgram } from "./main.js";

describe("captionkit CLI", () => {
  it("registers every pipeline command", () => {
    const names = buildProgram().commands.map((command) => command.name());
    expect(names).toEqual(
      expect.arrayContaining([
        "dataset",
        "features",
        "train",
        "caption",
        "evaluate",
        "score",
        "serve",
        "index",
        "search",
      ]),
    );
  });
});
