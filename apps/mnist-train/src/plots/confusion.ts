import { escapeXml, svgDocument } from "./svg.js";

/**
 * A confusion matrix (rows: true class, columns: predicted) as a heat map with counts. Correct cells
 * (the diagonal) are green by the share of their row; mistakes are red on a scale of their own, from
 * the largest mistake count down, so that the errors stand out; empty mistake cells stay blank. A last
 * column gives each class's accuracy.
 */
export function confusionSvg(matrix: readonly (readonly number[])[], classes: readonly string[]): string {
  const n = classes.length;
  const cell = 46;
  const left = 70;
  const top = 92;
  const accuracyWidth = 70;
  const width = Math.max(left + n * cell + accuracyWidth + 20, 560);
  const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((sum, row, i) => sum + row[i]!, 0);
  let maxMistake = 0;
  matrix.forEach((row, i) => row.forEach((v, j) => i !== j && (maxMistake = Math.max(maxMistake, v))));
  const mid = left + (n * cell) / 2;
  const parts: string[] = [
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">Confusion matrix</text>`,
    `<text x="${width / 2}" y="38" text-anchor="middle" font-size="12">${total - correct} of ${total} test images wrong (${total ? ((100 * correct) / total).toFixed(2) : "-"}% right); mistakes in red, darker = more</text>`,
    `<text x="${mid}" y="${top - 26}" text-anchor="middle" font-size="12">predicted digit</text>`,
    `<text x="18" y="${top + (n * cell) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 18 ${top + (n * cell) / 2})">true digit</text>`,
    `<text x="${left + n * cell + accuracyWidth / 2 + 6}" y="${top - 8}" text-anchor="middle" font-size="12">accuracy</text>`,
  ];
  for (let i = 0; i < n; i++) {
    parts.push(`<text x="${left + i * cell + cell / 2}" y="${top - 8}" text-anchor="middle" font-size="13">${escapeXml(classes[i]!)}</text>`);
    parts.push(`<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="13">${escapeXml(classes[i]!)}</text>`);
    for (let j = 0; j < n; j++) {
      const count = matrix[i]![j]!;
      let fill = "white";
      let ink = "black";
      if (i === j) {
        const share = rowTotals[i]! > 0 ? count / rowTotals[i]! : 0;
        fill = `rgb(${Math.round(235 - 170 * share)},${Math.round(245 - 90 * share)},${Math.round(235 - 170 * share)})`;
        ink = share > 0.6 ? "white" : "black";
      } else if (count > 0) {
        // A square root keeps single mistakes visible next to the largest.
        const t = Math.sqrt(count / maxMistake);
        fill = `rgb(${Math.round(255 - 40 * t)},${Math.round(215 - 175 * t)},${Math.round(215 - 175 * t)})`;
        ink = t > 0.55 ? "white" : "black";
      }
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#d0d0d0"/>`);
      if (count > 0 || i === j) {
        parts.push(
          `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="12" ${i !== j ? 'font-weight="bold"' : ""} fill="${ink}">${count}</text>`,
        );
      }
    }
    const accuracy = rowTotals[i]! > 0 ? `${((100 * matrix[i]![i]!) / rowTotals[i]!).toFixed(1)}%` : "-";
    parts.push(`<text x="${left + n * cell + accuracyWidth / 2 + 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="12">${accuracy}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${n * cell}" height="${n * cell}" fill="none" stroke="#888"/>`);
  return svgDocument(width, top + n * cell + 20, parts.join(""));
}
