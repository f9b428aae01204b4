import { describe, expect, it } from "vitest";
import { NgramTable } from "./ngrams.js";

function entries(table: NgramTable, words: string[]) {
  const bag = table.bag(words);
  return Array.from({ length: bag.end - bag.start }, (_, k) => ({
    id: table.ids[bag.start + k]!,
    count: table.counts[bag.start + k]!,
    order: table.order[table.ids[bag.start + k]!]!,
  }));
}

describe("NgramTable", () => {
  it("counts every n-gram of order 1..n once per occurrence", () => {
    const table = new NgramTable(4);
    const bag = entries(table, "a b a b".split(" "));
    // unigrams a, b (x2 each); bigrams "a b" x2, "b a" x1; trigrams "a b a", "b a b"; one 4-gram.
    expect(bag.map((e) => e.count).reduce((a, b) => a + b)).toBe(4 + 3 + 2 + 1);
    expect(bag.filter((e) => e.order === 1).map((e) => e.count)).toEqual([2, 2]);
    expect(
      bag
        .filter((e) => e.order === 2)
        .map((e) => e.count)
        .sort(),
    ).toEqual([1, 2]);
    expect(bag.filter((e) => e.order === 4)).toHaveLength(1);
  });

  it("gives the same n-gram the same id across sentences and keeps ids sorted", () => {
    const table = new NgramTable(2);
    const first = entries(table, ["red", "car"]);
    const second = entries(table, ["a", "red", "car"]);
    const redCar = first.find((e) => e.order === 2)!.id;
    expect(second.some((e) => e.id === redCar)).toBe(true);
    const ids = second.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("survives growth of its hash table and buffers", () => {
    const table = new NgramTable(4);
    for (let i = 0; i < 20_000; i++) table.bag([`w${i}`, `w${i + 1}`, `w${i + 2}`]);
    const again = entries(table, ["w5", "w6", "w7"]);
    expect(again).toHaveLength(6);
    expect(table.size).toBeLessThan(20_002 * 3 + 10);
  });

  it("handles an empty sentence", () => {
    const table = new NgramTable(4);
    expect(table.bag([])).toMatchObject({ length: 0 });
    expect(entries(table, [])).toEqual([]);
  });
});
