/**
 * The report of a good-match threshold bench (search-thresholds.ts, generative-thresholds.ts): the own
 * photo's and the other photos' score percentiles, then, per threshold, how many of each clear it and
 * how many queries have no photo that does.
 */
export function printThresholdTable(
  scores: { own: number[]; other: number[]; best: number[] },
  thresholds: readonly number[],
  current: number,
  digits: number,
): void {
  const own = [...scores.own].sort((a, b) => a - b);
  const other = [...scores.other].sort((a, b) => a - b);
  const at = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const above = (xs: number[], t: number) => xs.filter((x) => x >= t).length / xs.length;
  const f = (x: number) => x.toFixed(digits);
  console.log(`own photo:    p10 ${f(at(own, 0.1))}  p25 ${f(at(own, 0.25))}  median ${f(at(own, 0.5))}`);
  console.log(
    `other photos: median ${f(at(other, 0.5))}  p90 ${f(at(other, 0.9))}  p99 ${f(at(other, 0.99))}`,
  );
  console.log(
    "| threshold | own photo at or above | other photos at or above | queries whose best is below |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const t of thresholds) {
    const mark = Math.abs(t - current) < 1e-9 ? " (current)" : "";
    console.log(
      `| ${t.toFixed(Math.max(1, digits - 1))}${mark} | ${(100 * above(own, t)).toFixed(1)}% | ${(100 * above(other, t)).toFixed(2)}% | ${(100 * (1 - above(scores.best, t))).toFixed(1)}% |`,
    );
  }
}
