// The error function in float64, by the rational approximations of Sun Microsystems' fdlibm s_erf.c
// (the method of glibc's, FreeBSD's and so of torch's std::erf on Linux): |error| < 1 ulp-ish everywhere.
// erf(x) = x + x·R(x²) on |x| < 0.84375; erx + P(s)/Q(s) with s = |x| − 1 on [0.84375, 1.25); on
// [1.25, 6) through erfc: exp(−x² − 0.5625 + R(1/x²)/S(1/x²)) / x, with x² split exactly (z = x with its low
// 32 bits cleared) so that exp's argument keeps its precision; ±1 from 6 on.

const ERX = 8.45062911510467529297e-1;
const EFX = 1.28379167095512586316e-1;

// erf on [0, 0.84375): x + x·pp(z)/qq(z), z = x².
const PP = [1.28379167095512558561e-1, -3.25042107247001499370e-1, -2.84817495755985104766e-2, -5.77027029648944159157e-3, -2.37630166566501626084e-5];
const QQ = [1, 3.97917223959155352819e-1, 6.50222499887672944485e-2, 5.08130628187576562776e-3, 1.32494738004321644526e-4, -3.96022827877536812320e-6];
// erf on [0.84375, 1.25): erx + pa(s)/qa(s), s = |x| − 1.
const PA = [
  -2.36211856075265944077e-3, 4.14856118683748331666e-1, -3.72207876035701323847e-1, 3.18346619901161753674e-1, -1.10894694282396677476e-1,
  3.54783043256182359371e-2, -2.16637559486879084300e-3,
];
const QA = [1, 1.06420880400844228286e-1, 5.40397917702171048937e-1, 7.18286544141962662868e-2, 1.26171219808761642112e-1, 1.36370839120290507362e-2, 1.19844998467991074170e-2];
// erfc on [1.25, 1/0.35): ra(s)/sa(s), s = 1/x².
const RA = [
  -9.86494403484714822705e-3, -6.93858572707181764372e-1, -1.05586262253232909814e1, -6.23753324503260060396e1, -1.62396669462573470355e2,
  -1.84605092906711035994e2, -8.12874355063065934246e1, -9.81432934416914548592,
];
const SA = [
  1, 1.96512716674392571292e1, 1.37657754143519042600e2, 4.34565877475229228821e2, 6.45387271733267880336e2, 4.29008140027567833386e2,
  1.08635005541779435134e2, 6.57024977031928170135, -6.04244152148580987438e-2,
];
// erfc on [1/0.35, 6): rb(s)/sb(s).
const RB = [
  -9.86494292470009928597e-3, -7.99283237680523006574e-1, -1.77579549177547519889e1, -1.60636384855821916062e2, -6.37566443368389627722e2,
  -1.02509513161107724954e3, -4.83519191608651397019e2,
];
const SB = [
  1, 3.03380607434824582924e1, 3.25792512996573918826e2, 1.53672958608443695994e3, 3.19985821950859553908e3, 2.55305040643316442583e3,
  4.74528541206955367215e2, -2.24409524465858183362e1,
];

/** c[0] + c[1]·t + c[2]·t² + ... by Horner's rule. */
function poly(c: readonly number[], t: number): number {
  let r = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) r = r * t + c[i]!;
  return r;
}

const view = new DataView(new ArrayBuffer(8));

/** x with the low 32 bits of its float64 representation cleared: z² is exact, and x² = z² + (x − z)(x + z). */
function highHalf(x: number): number {
  view.setFloat64(0, x);
  view.setUint32(4, 0);
  return view.getFloat64(0);
}

/** erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, as torch.special.erf in float64. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 0.84375) {
    // Below 2⁻²⁸ the series' first term is all: erf(x) = x·2/√π rounded (and -0 stays -0); scaled by 8
    // near the subnormals so that EFX·x does not underflow.
    if (a < 2 ** -28) return a < 2 ** -1015 ? 0.125 * (8 * x + 8 * EFX * x) : x + EFX * x;
    const z = x * x;
    return x + x * (poly(PP, z) / poly(QQ, z));
  }
  if (a < 1.25) {
    const s = a - 1;
    const y = ERX + poly(PA, s) / poly(QA, s);
    return x < 0 ? -y : y;
  }
  if (a >= 6) return x < 0 ? -1 : 1;
  const s = 1 / (a * a);
  const ratio = a < 1 / 0.35 ? poly(RA, s) / poly(SA, s) : poly(RB, s) / poly(SB, s);
  const z = highHalf(a);
  const erfc = (Math.exp(-z * z - 0.5625) * Math.exp((z - a) * (z + a) + ratio)) / a;
  return x < 0 ? erfc - 1 : 1 - erfc;
}
