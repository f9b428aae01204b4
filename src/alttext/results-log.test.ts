import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ResultsLog } from "./results-log.js";
import type { AltTextRecord } from "./types.js";

const record = (image: string): AltTextRecord => ({
  image,
  caption: "A red square.",
  file: { path: `/photos/${image}`, size: 10, mtime_ms: 1 },
});

async function logFile(content: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "captionkit-log-")), "out.jsonl");
  await writeFile(path, content);
  return path;
}

/** Every line must parse: what any JSONL reader (jq, pandas) needs. */
async function jsonLines(path: string): Promise<AltTextRecord[]> {
  const text = await readFile(path, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as AltTextRecord);
}

describe("ResultsLog", () => {
  it("cuts a torn last line off before appending, so every line of the file parses", async () => {
    const whole = `${JSON.stringify(record("a.jpg"))}\n`;
    const torn = '{"image":"b.jpg","capt';
    const path = await logFile(whole + torn);
    const log = new ResultsLog(path);
    expect(log.repairedBytes).toBe(torn.length);
    expect(log.unreadableLines).toBe(0);
    expect(log.size).toBe(1);
    log.append(record("b.jpg"));
    log.close();
    expect((await jsonLines(path)).map((r) => r.image)).toEqual(["a.jpg", "b.jpg"]);
  });

  it("keeps a last record that only lacks its newline, and counts unreadable earlier lines", async () => {
    const path = await logFile(`not json\n${JSON.stringify(record("a.jpg"))}`);
    const log = new ResultsLog(path);
    expect(log.repairedBytes).toBe(0);
    expect(log.unreadableLines).toBe(1);
    expect(log.size).toBe(1);
    log.append(record("b.jpg"));
    log.close();
    const lines = (await readFile(path, "utf8")).split("\n");
    expect(lines).toEqual(["not json", JSON.stringify(record("a.jpg")), JSON.stringify(record("b.jpg")), ""]);
  });

  it("leaves a clean file as it is", async () => {
    const whole = `${JSON.stringify(record("a.jpg"))}\n`;
    const path = await logFile(whole);
    new ResultsLog(path).close();
    expect(await readFile(path, "utf8")).toBe(whole);
  });
});
