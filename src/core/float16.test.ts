import { describe, expect, it } from "vitest";
import { decodeHalf, encodeHalf, fromHalfBits, toHalfBits } from "./float16.js";

describe("float16", () => {
  it("converts exact values and specials like IEEE hardware", () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(70000)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(1e-9)).toBe(0);
    expect(toHalfBits(Number.NaN) & 0x7e00).toBe(0x7e00);
  });

  it("rounds half to even", () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(toHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(toHalfBits(2047.9)).toBe(toHalfBits(2048)); // carry into the exponent
  });

  it("round-trips every half value and packs little-endian", () => {
    const mismatched: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const isNan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isNan && toHalfBits(fromHalfBits(h)) !== h) mismatched.push(h);
    }
    expect(mismatched).toEqual([]);
    const values = Float32Array.from([0.5, -3.25, 6, 1e-3]);
    const buf = Buffer.alloc(8);
    encodeHalf(values, buf, 0);
    expect(buf.readUInt16LE(0)).toBe(0x3800);
    const back = decodeHalf(buf);
    values.forEach((v, i) => {
      expect(back[i]).toBeCloseTo(v, 3);
    });
  });
});
