import { escapeXml, svgDocument } from "./svg.js";

/** A confusion matrix (rows: true class, columns: predicted) as a heat map with counts. */
export function confusionSvg(matrix: readonly (readonly number[])[], classes: readonly string[]): string {
  const n = classes.length;
  const cell = 44;
  const left = 70;
  const top = 70;
  const size = left + n * cell + 20;
  const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const parts: string[] = [
    `<text x="${left + (n * cell) / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Confusion matrix</text>`,
    `<text x="${left + (n * cell) / 2}" y="${top - 28}" text-anchor="middle" font-size="12">predicted</text>`,
    `<text x="18" y="${top + (n * cell) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 18 ${top + (n * cell) / 2})">true</text>`,
  ];
  for (let i = 0; i < n; i++) {
    parts.push(`<text x="${left + i * cell + cell / 2}" y="${top - 8}" text-anchor="middle" font-size="12">${escapeXml(classes[i]!)}</text>`);
    parts.push(`<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="12">${escapeXml(classes[i]!)}</text>`);
    for (let j = 0; j < n; j++) {
      const count = matrix[i]![j]!;
      const share = rowTotals[i]! > 0 ? count / rowTotals[i]! : 0;
      const shade = Math.round(255 * (1 - share));
      const fill = i === j ? `rgb(${shade},${Math.round(255 - share * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
      parts.push(
        `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="11" fill="${share > 0.6 ? "white" : "black"}">${count}</text>`,
      );
    }
  }
  return svgDocument(size, top + n * cell + 20, parts.join(""));
}
