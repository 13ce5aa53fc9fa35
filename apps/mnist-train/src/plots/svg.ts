/** Escapes text for an SVG text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export interface Series {
  label: string;
  color: string;
  values: readonly number[];
}

/**
 * A line chart panel (axes, ticks, legend) of one or more series over epochs 1..n,
 * as an SVG group placed at (x, y).
 */
export function linePanel(x: number, y: number, width: number, height: number, title: string, series: readonly Series[]): string {
  const pad = { left: 56, right: 16, top: 32, bottom: 40 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5 * Math.max(Math.abs(lo), 1e-3);
    hi += 0.5 * Math.max(Math.abs(hi), 1e-3);
  }
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const px = (i: number): number => pad.left + (n === 1 ? w / 2 : (i / (n - 1)) * w);
  const py = (v: number): number => pad.top + (1 - (v - lo) / (hi - lo)) * h;
  const parts: string[] = [`<g transform="translate(${x},${y})">`];
  parts.push(`<text x="${pad.left + w / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<rect x="${pad.left}" y="${pad.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    const yy = py(v);
    parts.push(`<line x1="${pad.left}" x2="${pad.left + w}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
    parts.push(`<text x="${pad.left - 6}" y="${yy + 4}" text-anchor="end" font-size="11">${formatTick(v)}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) {
    parts.push(`<text x="${px(i)}" y="${pad.top + h + 16}" text-anchor="middle" font-size="11">${i + 1}</text>`);
  }
  parts.push(`<text x="${pad.left + w / 2}" y="${height - 6}" text-anchor="middle" font-size="12">epoch</text>`);
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`);
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`);
    s.values.forEach((v, i) => parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/>`));
    const ly = pad.top + 14 + k * 16;
    parts.push(`<rect x="${pad.left + w - 120}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${pad.left + w - 105}" y="${ly}" font-size="12">${escapeXml(s.label)}</text>`);
  });
  parts.push("</g>");
  return parts.join("");
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(1);
  return a >= 10 ? v.toFixed(1) : v.toFixed(3);
}

export function svgDocument(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">` +
    `<rect width="${width}" height="${height}" fill="white"/>${body}</svg>`
  );
}
