import { describe, expect, it } from "vitest";
import { ptbTokenize } from "./ptb-tokenizer.js";

const tok = (text: string) => ptbTokenize(text).join(" ");

describe("ptbTokenize (COCO reference tokenization)", () => {
  it("lowercases and drops the reference's punctuation tokens", () => {
    expect(tok("A Dog runs, jumps; and: barks! Why? Yes.")).toBe("a dog runs jumps and barks why yes");
    expect(tok("wait ... -- - what")).toBe("wait what");
  });

  it("drops quotes and parentheses but keeps the words inside", () => {
    expect(tok('a shirt that says " Boys Will Do Boys , " waving')).toBe(
      "a shirt that says boys will do boys waving",
    );
    expect(tok("black ( respectively ) and {curly}")).toBe("black respectively and curly");
    expect(tok("a man in a 'plane' pose and \u201csmart\u201d quotes")).toBe(
      "a man in a plane pose and smart quotes",
    );
  });

  it("splits clitics off and keeps them", () => {
    expect(tok("a dog's toy")).toBe("a dog 's toy");
    expect(tok("a woman 's neck")).toBe("a woman 's neck");
    expect(tok("they're here, we've gone, I'm ok, it'll do, he'd go")).toBe(
      "they 're here we 've gone i 'm ok it 'll do he 'd go",
    );
    expect(tok("don't can't won't")).toBe("do n't ca n't wo n't");
    expect(tok("the dog\u2019s bone")).toBe("the dog 's bone");
    expect(tok("cannot gonna")).toBe("can not gon na");
  });

  it("drops the apostrophe of a plural possessive", () => {
    expect(tok("the dogs' bowls")).toBe("the dogs bowls");
  });

  it("keeps hyphenated words, numbers and abbreviations whole", () => {
    expect(tok("a t-shirt on a 10-year-old boy")).toBe("a t-shirt on a 10-year-old boy");
    expect(tok("1,000 people at 10:30 paid 3.5 dollars")).toBe("1,000 people at 10:30 paid 3.5 dollars");
    expect(tok("Mr. Smith walks in the U.S. today.")).toBe("mr. smith walks in the u.s. today");
    expect(tok("o'clock in the '90s")).toBe("o'clock in the '90s");
  });

  it("uses PTB symbols for what it keeps", () => {
    expect(ptbTokenize("and/or 1/2 [x] a*b")).toEqual([
      "and",
      "\\/",
      "or",
      "1\\/2",
      "-lsb-",
      "x",
      "-rsb-",
      "a",
      "\\*",
      "b",
    ]);
  });

  it("handles empty and whitespace-only input", () => {
    expect(ptbTokenize("")).toEqual([]);
    expect(ptbTokenize("  \n .  ")).toEqual([]);
  });
});
