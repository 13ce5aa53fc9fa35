/** At most about this many pixels take part in a fit: a photo of millions of pixels is sampled on a grid. */
const MAX_SAMPLES = 16_384;
/** The first estimate of the page looks at an 8×8 grid of cells... */
const CELLS = 8;
/** ...and takes in each the brightness that this share of its pixels stay on the ink's side of. */
const PAGE_PERCENTILE = 0.9;
const TERMS = 6;

export interface Page {
  /** Coefficients of 1, u, v, u², uv, v² (u, v from -0.5 to 0.5 across the picture): see pageAt. */
  surface: Float64Array;
  /** The standard deviation of the pixels around it (the page's noise), from their median absolute deviation. */
  noise: number;
}

/**
 * The brightness of the page behind a picture: a quadratic surface in x and y (a constant, a gradient, a
 * vignette), so that ink can be measured from the page under it in a photo lit unevenly. First fitted to
 * the page level of each cell of an 8×8 grid (its 90th brightness percentile under dark ink, 10th under
 * light ink), leaving out cells that are mostly ink (more than 3 standard deviations from the fit); then
 * refitted twice to the pixels within 3 standard deviations of the page's noise. `light` holds brightness
 * in [0, 1].
 */
export function fitPage(light: Float32Array, width: number, height: number, darkInk: boolean): Page {
  const stride = Math.max(1, Math.ceil(Math.sqrt((width * height) / MAX_SAMPLES)));
  const samples = sampleGrid(width, height, stride);
  const cells = cellLevels(light, width, height, stride, darkInk);
  // From a flat page at the cells' median, each round refits to the cells near the last fit, dropping those
  // that ink covers; a plain fit to every cell would be pulled towards them.
  let surface: Float64Array = Float64Array.of(median(cells.level), 0, 0, 0, 0, 0);
  const residuals = new Float64Array(cells.level.length);
  for (let round = 0; round < 4; round++) {
    residualsOf(surface, cells, cells.level, width, height, residuals);
    const band = Math.max(3 * 1.4826 * median(residuals), 1.5 / 255);
    surface = fitQuadratic(cells.x, cells.y, cells.level, width, height, residuals, band) ?? surface;
  }
  const values = new Float64Array(samples.x.length);
  for (let k = 0; k < values.length; k++) values[k] = light[samples.y[k]! * width + samples.x[k]!]!;
  const deviations = new Float64Array(values.length);
  for (let round = 0; round < 2; round++) {
    residualsOf(surface, samples, values, width, height, deviations);
    const band = Math.max(3 * noiseOf(deviations), 1.5 / 255);
    surface = fitQuadratic(samples.x, samples.y, values, width, height, deviations, band) ?? surface;
  }
  residualsOf(surface, samples, values, width, height, deviations);
  return { surface, noise: noiseOf(deviations) };
}

/** The surface along row y as a polynomial in u: constant + linear·u + square·u². */
export function pageRow(surface: Float64Array, y: number, width: number, height: number): { constant: number; linear: number; square: number } {
  const v = (y + 0.5) / height - 0.5;
  const c = surface;
  return { constant: c[0]! + c[2]! * v + c[5]! * v * v, linear: c[1]! + c[4]! * v, square: c[3]! };
}

/** The page's brightness at pixel (x, y). */
export function pageAt(surface: Float64Array, x: number, y: number, width: number, height: number): number {
  const u = (x + 0.5) / width - 0.5;
  const v = (y + 0.5) / height - 0.5;
  const c = surface;
  return c[0]! + c[1]! * u + c[2]! * v + c[3]! * u * u + c[4]! * u * v + c[5]! * v * v;
}

interface Points {
  x: Float64Array;
  y: Float64Array;
}

function sampleGrid(width: number, height: number, stride: number): Points {
  const columns = Math.ceil(width / stride);
  const rows = Math.ceil(height / stride);
  const x = new Float64Array(columns * rows);
  const y = new Float64Array(columns * rows);
  for (let r = 0, k = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++, k++) {
      x[k] = c * stride;
      y[k] = r * stride;
    }
  }
  return { x, y };
}

/** The page level of each cell, placed at the cell's centre (in pixel coordinates). */
function cellLevels(light: Float32Array, width: number, height: number, stride: number, darkInk: boolean): Points & { level: Float64Array } {
  const across = Math.min(CELLS, width);
  const down = Math.min(CELLS, height);
  const x = new Float64Array(across * down);
  const y = new Float64Array(across * down);
  const level = new Float64Array(across * down);
  for (let r = 0, k = 0; r < down; r++) {
    const [top, bottom] = [Math.floor((r * height) / down), Math.floor(((r + 1) * height) / down)];
    for (let c = 0; c < across; c++, k++) {
      const [left, right] = [Math.floor((c * width) / across), Math.floor(((c + 1) * width) / across)];
      const step = Math.min(stride, Math.max(1, Math.floor((right - left) / 2)), Math.max(1, Math.floor((bottom - top) / 2)));
      const values: number[] = [];
      for (let py = top; py < bottom; py += step) for (let px = left; px < right; px += step) values.push(light[py * width + px]!);
      values.sort((a, b) => a - b);
      const rank = darkInk ? PAGE_PERCENTILE : 1 - PAGE_PERCENTILE;
      level[k] = values[Math.min(values.length - 1, Math.floor(rank * values.length))]!;
      x[k] = (left + right - 1) / 2;
      y[k] = (top + bottom - 1) / 2;
    }
  }
  return { x, y, level };
}

/** Writes into `out` how far each of `values` lies from the surface at its point. */
function residualsOf(surface: Float64Array, points: Points, values: Float64Array, width: number, height: number, out: Float64Array): void {
  for (let k = 0; k < values.length; k++) out[k] = Math.abs(values[k]! - pageAt(surface, points.x[k]!, points.y[k]!, width, height));
}

/** The standard deviation behind absolute deviations from the surface, from their median (to 1/255). */
function noiseOf(deviations: Float64Array): number {
  const histogram = new Uint32Array(256);
  for (let k = 0; k < deviations.length; k++) histogram[Math.min(255, Math.round(255 * deviations[k]!))]!++;
  let seen = 0;
  let level = 0;
  while ((seen += histogram[level]!) * 2 < deviations.length) level++;
  return (1.4826 * level) / 255;
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Least-squares quadratic surface through the points whose residual is at most `band`; undefined if they
 * cannot determine it.
 */
function fitQuadratic(
  xs: Float64Array,
  ys: Float64Array,
  values: Float64Array,
  width: number,
  height: number,
  residuals: Float64Array,
  band: number,
): Float64Array | undefined {
  // Sums of u^i v^j (i + j <= 4) and of value · u^i v^j (i + j <= 2) are all the normal equations need.
  // One declaration each: destructured from an array, V8 kept every sum boxed (a heap number per addition).
  let n = 0;
  let u1 = 0;
  let v1 = 0;
  let u2 = 0;
  let uv = 0;
  let v2 = 0;
  let u3 = 0;
  let u2v = 0;
  let uv2 = 0;
  let v3 = 0;
  let u4 = 0;
  let u3v = 0;
  let u2v2 = 0;
  let uv3 = 0;
  let v4 = 0;
  let z = 0;
  let zu = 0;
  let zv = 0;
  let zuu = 0;
  let zuv = 0;
  let zvv = 0;
  for (let k = 0; k < values.length; k++) {
    if (!(residuals[k]! <= band)) continue;
    const u = (xs[k]! + 0.5) / width - 0.5;
    const v = (ys[k]! + 0.5) / height - 0.5;
    const w = values[k]!;
    const uu = u * u;
    const vv = v * v;
    n++;
    u1 += u;
    v1 += v;
    u2 += uu;
    uv += u * v;
    v2 += vv;
    u3 += uu * u;
    u2v += uu * v;
    uv2 += u * vv;
    v3 += vv * v;
    u4 += uu * uu;
    u3v += uu * u * v;
    u2v2 += uu * vv;
    uv3 += u * vv * v;
    v4 += vv * vv;
    z += w;
    zu += w * u;
    zv += w * v;
    zuu += w * uu;
    zuv += w * u * v;
    zvv += w * vv;
  }
  if (n < TERMS) return undefined;
  // Rows and columns follow the terms 1, u, v, u², uv, v².
  const normal = Float64Array.of(
    ...[n, u1, v1, u2, uv, v2],
    ...[u1, u2, uv, u3, u2v, uv2],
    ...[v1, uv, v2, u2v, uv2, v3],
    ...[u2, u3, u2v, u4, u3v, u2v2],
    ...[uv, u2v, uv2, u3v, u2v2, uv3],
    ...[v2, uv2, v3, u2v2, uv3, v4],
  );
  return solve(normal, Float64Array.of(z, zu, zv, zuu, zuv, zvv));
}

/** Solves the system by Gaussian elimination with partial pivoting; undefined if it is singular. */
function solve(matrix: Float64Array, rhs: Float64Array): Float64Array | undefined {
  const n = rhs.length;
  const a = Float64Array.from(matrix);
  const b = Float64Array.from(rhs);
  const scale = Math.max(...a.map(Math.abs));
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    if (Math.abs(a[pivot * n + col]!) <= 1e-12 * scale) return undefined;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [a[col * n + c], a[pivot * n + c]] = [a[pivot * n + c]!, a[col * n + c]!];
      [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    }
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col]! / a[col * n + col]!;
      for (let c = col; c < n; c++) a[r * n + c]! -= f * a[col * n + c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let sum = b[r]!;
    for (let c = r + 1; c < n; c++) sum -= a[r * n + c]! * x[c]!;
    x[r] = sum / a[r * n + r]!;
  }
  return x;
}
