/** Escapes text for an SVG text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  label: string;
  color: string;
  points: readonly Point[];
  /** Line width; 0 draws markers only. Default 2. */
  width?: number;
  opacity?: number;
  /** Draw a dot at every point (for per-epoch values). */
  markers?: boolean;
  /** Print the last point's value beside it. */
  labelLast?: boolean;
  /** Leave out of the legend. */
  hideInLegend?: boolean;
}

export interface PanelOptions {
  title: string;
  xLabel: string;
  xRange: readonly [number, number];
  /** Bounds the y axis never crosses (e.g. [0, 1] for an accuracy, [0, Infinity] for a loss). */
  yBounds: readonly [number, number];
  /** Legend rows to make room for at least, so that panels side by side line up. Default 1. */
  legendRows?: number;
  /** Where the y axis starts, whatever the data (0 for a loss). */
  yFrom?: number;
  /** Values above this are drawn clipped (a spiky raw series should not squash the rest). */
  yMaxHint?: number;
  /** Formats a value printed beside a point. */
  formatValue?: (v: number) => string;
  series: readonly Series[];
}

/** Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, target = 5): { ticks: number[]; step: number; lo: number; hi: number } {
  if (!(hi > lo)) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const raw = (hi - lo) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw * 0.999)!;
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= last + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, step, lo: first, hi: last };
}

/** A tick label with the decimals the step needs (steps of 0.25 -> "0.25", "0.50"; of 0.002 -> "0.004"). */
export function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-6) return "0";
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e6) return Number(v.toPrecision(3)).toExponential().replace(/\.?0+e/, "e");
  return v.toFixed(decimalsOf(step));
}

function decimalsOf(step: number): number {
  const text = Number(step.toPrecision(6)).toString();
  const [mantissa = "", exponent] = text.split("e-");
  const fraction = mantissa.split(".")[1]?.length ?? 0;
  return exponent === undefined ? fraction : fraction + Number(exponent);
}

let clipIds = 0;

/**
 * A line chart panel placed at (x, y): title, legend in a row of its own under the title (never over a
 * line), round ticks, and a y axis that stays within `yBounds`.
 */
export function linePanel(x: number, y: number, width: number, height: number, o: PanelOptions): string {
  // The legend goes in rows of its own under the title, wrapped to the panel's width.
  const legend: { series: Series; x: number; row: number }[] = [];
  let legendX = 0;
  let legendRow = 0;
  const legendWidth = width - 58 - 44;
  for (const s of o.series.filter((s) => !s.hideInLegend)) {
    const itemWidth = 23 + 7 * s.label.length + 16;
    if (legendX > 0 && legendX + itemWidth - 16 > legendWidth) {
      legendX = 0;
      legendRow += 1;
    }
    legend.push({ series: s, x: legendX, row: legendRow });
    legendX += itemWidth;
  }
  const pad = { left: 58, right: 44, top: 56 + 16 * Math.max(legendRow, (o.legendRows ?? 1) - 1), bottom: 42 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  let dataLo = ys.length ? Math.min(...ys) : o.yBounds[0];
  let dataHi = ys.length ? Math.max(...ys) : Math.min(o.yBounds[1], 1);
  if (o.yMaxHint !== undefined && dataHi > o.yMaxHint) dataHi = o.yMaxHint;
  if (dataHi - dataLo < 1e-9) {
    const spread = Math.max(Math.abs(dataHi) * 0.05, 1e-3);
    dataLo -= spread;
    dataHi += spread;
  }
  // As matplotlib does: 4% of room around the data (so that no point sits on the frame), within the
  // bounds, and round ticks inside; `yFrom` pins the bottom (a loss or an lr starts at 0).
  const room = (dataHi - dataLo) * 0.04;
  const lo = o.yFrom ?? Math.max(o.yBounds[0], dataLo - room);
  const hi = Math.min(o.yBounds[1], dataHi + room);
  const yTicks = niceTicks(lo, hi, 6);
  const xTicks = niceTicks(o.xRange[0], o.xRange[1], Math.min(10, Math.max(4, Math.round(o.xRange[1] - o.xRange[0]))));
  const [x0, x1] = o.xRange;
  const px = (v: number): number => pad.left + ((v - x0) / (x1 - x0 || 1)) * w;
  const py = (v: number): number => pad.top + (1 - (v - lo) / (hi - lo)) * h;
  const clip = `clip${clipIds++}`;
  const parts: string[] = [`<g transform="translate(${x},${y})">`];
  parts.push(`<clipPath id="${clip}"><rect x="${pad.left}" y="${pad.top}" width="${w}" height="${h}"/></clipPath>`);
  parts.push(`<text x="${pad.left + w / 2}" y="18" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  for (const { series: s, x: offset, row } of legend) {
    const lx = pad.left + offset;
    const ly = 38 + 16 * row;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    if (s.markers) parts.push(`<circle cx="${lx + 9}" cy="${ly}" r="3.5" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 23}" y="${ly + 4}" font-size="12">${escapeXml(s.label)}</text>`);
  }
  for (const v of yTicks.ticks.filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12)) {
    const yy = py(v);
    parts.push(`<line x1="${pad.left}" x2="${pad.left + w}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${pad.left - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end" font-size="11">${formatTick(v, yTicks.step)}</text>`);
  }
  for (const v of xTicks.ticks.filter((t) => t >= x0 - 1e-12 && t <= x1 + 1e-12)) {
    const xx = px(v);
    parts.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${pad.top + h}" y2="${pad.top + h + 4}" stroke="#999"/>`);
    parts.push(`<text x="${xx.toFixed(1)}" y="${pad.top + h + 17}" text-anchor="middle" font-size="11">${formatTick(v, xTicks.step)}</text>`);
  }
  parts.push(`<rect x="${pad.left}" y="${pad.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${pad.left + w / 2}" y="${height - 6}" text-anchor="middle" font-size="12">${escapeXml(o.xLabel)}</text>`);
  for (const s of o.series) {
    const points = s.points.filter((p) => Number.isFinite(p.y));
    const style = `stroke="${s.color}" stroke-opacity="${s.opacity ?? 1}"`;
    const width = s.width ?? 2;
    parts.push(`<g clip-path="url(#${clip})">`);
    if (width > 0 && points.length > 1) {
      parts.push(`<polyline fill="none" ${style} stroke-width="${width}" stroke-linejoin="round" points="${points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`);
    }
    if (s.markers) for (const p of points) parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    parts.push("</g>");
    const last = points.at(-1);
    if (s.labelLast && last !== undefined && o.formatValue !== undefined) {
      const yy = Math.min(pad.top + h - 4, Math.max(pad.top + 10, py(last.y) + 4));
      parts.push(`<text x="${(px(last.x) + 6).toFixed(1)}" y="${yy.toFixed(1)}" font-size="11" fill="${s.color}">${escapeXml(o.formatValue(last.y))}</text>`);
    }
  }
  parts.push("</g>");
  return parts.join("");
}

export function svgDocument(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">` +
    `<rect width="${width}" height="${height}" fill="white"/>${body}</svg>`
  );
}
