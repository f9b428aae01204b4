import sharp from "sharp";
import type { EpochRecord } from "./checkpoint.js";

const WIDTH = 900;
const HEIGHT = 360;
const PANEL = { top: 40, bottom: 300, width: 380 };

interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

function panel(x0: number, title: string, series: Series[]): string {
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = Math.min(...xs, 1);
  const xMax = Math.max(...xs, xMin + 1);
  let yMin = Math.min(...ys, Number.POSITIVE_INFINITY);
  let yMax = Math.max(...ys, Number.NEGATIVE_INFINITY);
  if (!Number.isFinite(yMin)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.08;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number) => x0 + 50 + ((x - xMin) / (xMax - xMin)) * (PANEL.width - 60);
  const sy = (y: number) => PANEL.bottom - ((y - yMin) / (yMax - yMin)) * (PANEL.bottom - PANEL.top);
  const parts: string[] = [];
  parts.push(`<text x="${x0 + 50}" y="25" font-size="16" font-family="sans-serif">${title}</text>`);
  parts.push(
    `<rect x="${x0 + 50}" y="${PANEL.top}" width="${PANEL.width - 60}" height="${PANEL.bottom - PANEL.top}" fill="none" stroke="#999"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(
      `<text x="${x0 + 45}" y="${sy(y) + 4}" font-size="11" text-anchor="end" font-family="sans-serif">${y.toFixed(3)}</text>`,
    );
  }
  parts.push(
    `<text x="${x0 + 50 + (PANEL.width - 60) / 2}" y="${PANEL.bottom + 30}" font-size="12" text-anchor="middle" font-family="sans-serif">epoch</text>`,
  );
  for (let x = Math.ceil(xMin); x <= xMax; x += Math.max(1, Math.ceil((xMax - xMin) / 10))) {
    parts.push(
      `<text x="${sx(x)}" y="${PANEL.bottom + 15}" font-size="11" text-anchor="middle" font-family="sans-serif">${x}</text>`,
    );
  }
  series.forEach((s, index) => {
    const points = s.points.filter(([, y]) => Number.isFinite(y));
    if (points.length > 0) {
      const path = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      parts.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const [x, y] of points) {
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
      }
    }
    parts.push(
      `<text x="${x0 + 60}" y="${PANEL.top + 16 + index * 15}" font-size="12" fill="${s.color}" font-family="sans-serif">${s.label}</text>`,
    );
  });
  return parts.join("\n");
}

/** SVG of the per-epoch train/val loss and val CIDEr-D. Drawn by hand: it is two polylines, no chart library needed. */
export function curveSvg(history: readonly EpochRecord[]): string {
  const x = (r: EpochRecord) => r.epoch + 1;
  const left = panel(0, "loss", [
    { label: "train loss", color: "#1f77b4", points: history.map((r) => [x(r), r.trainLoss]) },
    { label: "val loss", color: "#ff7f0e", points: history.map((r) => [x(r), r.valLoss]) },
  ]);
  const right = panel(450, "val CIDEr-D (greedy)", [
    { label: "CIDEr-D", color: "#2ca02c", points: history.map((r) => [x(r), r.ciderD]) },
    { label: "BLEU-4", color: "#d62728", points: history.map((r) => [x(r), r.bleu4]) },
  ]);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><rect width="100%" height="100%" fill="white"/>${left}${right}</svg>`;
}

/** Writes curve.svg's PNG rendering (via sharp's SVG support) to `file`. */
export async function writeCurvePng(history: readonly EpochRecord[], file: string): Promise<void> {
  await sharp(Buffer.from(curveSvg(history)))
    .png()
    .toFile(file);
}
