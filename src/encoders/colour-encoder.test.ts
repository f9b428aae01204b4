import { describe, expect, it } from "vitest";
import {
  COLOUR_CHANNELS,
  COLOUR_TERMS,
  ColourEncoder,
  colourDescriptor,
  srgbToLab,
} from "./colour-encoder.js";
import { ConcatEncoder } from "./concat-encoder.js";
import { createEncoder } from "./registry.js";

const term = (name: string) => 3 + COLOUR_TERMS.findIndex((t) => t.name === name);
/** Name of the colour term with the largest share in a descriptor starting at `offset`. */
const dominant = (values: Float32Array, offset = 0) => {
  const shares = Array.from(values.slice(offset + 3, offset + COLOUR_CHANNELS));
  return COLOUR_TERMS[shares.indexOf(Math.max(...shares))]!.name;
};

/** size x size image, value = pixel / 255, with `paint` choosing each pixel's RGB. */
function image(size: number, paint: (x: number, y: number) => [number, number, number]): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      out.set(
        paint(x, y).map((v) => v / 255),
        (y * size + x) * 3,
      );
  return out;
}

describe("colour encoder", () => {
  it("converts sRGB to CIELab as the standard formulas give", () => {
    // reference values: CIE D65, e.g. Bruce Lindbloom's calculator
    const white = srgbToLab(1, 1, 1);
    expect(white[0]).toBeCloseTo(100, 2);
    expect(Math.abs(white[1]) + Math.abs(white[2])).toBeLessThan(0.01);
    const red = srgbToLab(1, 0, 0);
    expect(red[0]).toBeCloseTo(53.24, 1);
    expect(red[1]).toBeCloseTo(80.09, 1);
    expect(red[2]).toBeCloseTo(67.2, 1);
    expect(srgbToLab(0, 0, 0)).toEqual([0, 0, 0]);
  });

  it("gives each pixel memberships that sum to 1 and peak at the nearest colour term", () => {
    const d = colourDescriptor(40 / 255, 80 / 255, 180 / 255);
    const shares = Array.from(d.slice(3));
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(dominant(d)).toBe("blue");
    expect(colourDescriptor(0.1, 0.1, 0.1)[term("black")]).toBeGreaterThan(0.9);
    expect(dominant(colourDescriptor(0.55, 0.35, 0.2))).toBe("brown");
  });

  it("reports the colours of each grid cell where they are", async () => {
    const encoder = await createEncoder("colour_224");
    expect(encoder.gridShape).toEqual([7, 7, COLOUR_CHANNELS]);
    // white picture, a red cell at row 0 col 0, a blue one at row 3 col 5 (cells are 32 px)
    const pixels = image(224, (x, y) => {
      if (x < 32 && y < 32) return [200, 30, 40];
      if (y >= 96 && y < 128 && x >= 160 && x < 192) return [40, 80, 180];
      return [245, 245, 245];
    });
    const { grid, pooled } = await encoder.encode(pixels, 1);
    const cell = (row: number, col: number, channel: number) =>
      grid[(row * 7 + col) * COLOUR_CHANNELS + channel]!;
    const at = (row: number, col: number) => dominant(grid, (row * 7 + col) * COLOUR_CHANNELS);
    expect([at(0, 0), at(3, 5), at(6, 6), at(0, 1)]).toEqual(["red", "blue", "white", "white"]);
    expect(cell(0, 0, term("red"))).toBeGreaterThan(0.8);
    expect(cell(0, 1, term("red"))).toBeLessThan(0.01);
    expect(cell(6, 6, 0)).toBeGreaterThan(0.95); // L / 100 of near-white
    // pooled: one red and one blue cell out of 49
    expect(pooled[term("red")]).toBeCloseTo(cell(0, 0, term("red")) / 49, 5);
    expect(pooled[term("white")]).toBeCloseTo((47 / 49) * cell(6, 6, term("white")), 5);
  });

  it("encodes each image of a batch on its own", async () => {
    const encoder = new ColourEncoder(14);
    const green = image(14, () => [60, 150, 60]);
    const pink = image(14, () => [240, 140, 180]);
    const both = new Float32Array([...green, ...pink]);
    const batch = await encoder.encode(both, 2);
    const alone = await encoder.encode(pink, 1);
    expect(Array.from(batch.grid.slice(49 * COLOUR_CHANNELS))).toEqual(Array.from(alone.grid));
    expect(dominant(batch.pooled)).toBe("green");
    expect(dominant(batch.pooled, COLOUR_CHANNELS)).toBe("pink");
  });

  it("joins a CNN encoder of the same input size and refuses sizes 7 does not divide", async () => {
    expect(() => new ColourEncoder(100)).toThrow(/does not divide/);
    const joined = await createEncoder("colour_224+colour_224");
    expect(joined.gridShape).toEqual([7, 7, 2 * COLOUR_CHANNELS]);
    // a part named twice is one instance, run once per batch, its output copied into both slices
    const part = new ColourEncoder(14);
    let calls = 0;
    const counting = Object.assign(Object.create(part) as ColourEncoder, {
      encode: (x: Float32Array, n: number) => {
        calls += 1;
        return part.encode(x, n);
      },
    });
    const twice = await new ConcatEncoder([counting, counting]).encode(
      image(14, () => [240, 140, 180]),
      1,
    );
    expect(calls).toBe(1);
    expect(Array.from(twice.grid.slice(0, COLOUR_CHANNELS))).toEqual(
      Array.from(twice.grid.slice(COLOUR_CHANNELS, 2 * COLOUR_CHANNELS)),
    );
    await expect(createEncoder("colour_224+colour_448")).rejects.toThrow(/input sizes differ/);
  });
});
