/**
 * What a terminal shows after some output: enough VT100 for what cli-progress and readline emit (cursor
 * save/restore, column, up/down, line clearing). Escape codes that do not move text are ignored.
 */
export class Screen {
  readonly isTTY = true;
  readonly columns = 120;
  private lines: string[] = [""];
  private row = 0;
  private col = 0;
  private saved: [number, number] = [0, 0];

  write(chunk: string | Uint8Array): boolean {
    const text = String(chunk);
    const esc = String.fromCharCode(27);
    const pattern = new RegExp(`${esc}(7|8|\\[\\??[0-9;]*[A-Za-z])|\r|\n|[^${esc}\r\n]+`, "g");
    for (const [token, code] of text.matchAll(pattern)) {
      if (code === "7") this.saved = [this.row, this.col];
      else if (code === "8") [this.row, this.col] = this.saved;
      else if (code !== undefined) this.control(code);
      else if (token === "\r") this.col = 0;
      else if (token === "\n") this.moveTo(this.row + 1, 0);
      else {
        const line = this.lines[this.row]!.padEnd(this.col);
        this.lines[this.row] = line.slice(0, this.col) + token + line.slice(this.col + token.length);
        this.col += token.length;
      }
    }
    return true;
  }

  private control(code: string): void {
    const n = Number(code.slice(1, -1).replace("?", "")) || 0;
    const line = this.lines[this.row]!;
    if (code.endsWith("G")) this.col = Math.max(0, n - 1);
    else if (code.endsWith("A")) this.moveTo(this.row - (n || 1), this.col);
    else if (code.endsWith("B")) this.moveTo(this.row + (n || 1), this.col);
    else if (code === "[2K") this.lines[this.row] = "";
    else if (code.endsWith("K")) this.lines[this.row] = line.slice(0, this.col);
    else if (code.endsWith("J")) this.lines.splice(this.row + 1);
  }

  private moveTo(row: number, col: number): void {
    this.row = Math.max(0, row);
    this.col = col;
    while (this.lines.length <= this.row) this.lines.push("");
  }

  text(): string[] {
    return this.lines.map((line) => line.trimEnd()).filter(Boolean);
  }
}
