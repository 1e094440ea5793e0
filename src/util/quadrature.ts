/** Nodes and weights of a quadrature rule on [0, 1]. */
export interface Quadrature {
  nodes: number[];
  weights: number[];
}

export const QUADRATURE_RULES = [
  'gauss-legendre',
  'riemann-trapezoid',
  'riemann-middle',
  'riemann-left',
  'riemann-right',
] as const;
export type QuadratureRule = (typeof QUADRATURE_RULES)[number];

/** Gauss–Legendre nodes on [0, 1] by Newton's method on the Legendre polynomial P_n (exact for polynomials of degree 2n − 1). */
export function gaussLegendre(n: number): Quadrature {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    nodes.push((1 - x) / 2);
    weights.push(1 / ((1 - x * x) * derivative * derivative));
  }
  return { nodes: nodes.reverse(), weights: weights.reverse() };
}

/** `steps` points and weights of a rule on [0, 1], as Captum defines them. */
const gaussLegendreByCount = new Map<number, Quadrature>();

export function quadrature(rule: QuadratureRule, steps: number): Quadrature {
  if (rule === 'gauss-legendre') {
    // Newton's iterations cost more than a small model's whole backward pass: solve each count once.
    let solved = gaussLegendreByCount.get(steps);
    if (!solved) gaussLegendreByCount.set(steps, (solved = gaussLegendre(steps)));
    return { nodes: [...solved.nodes], weights: [...solved.weights] };
  }
  const idx = Array.from({ length: steps }, (_, i) => i);
  if (rule === 'riemann-trapezoid') {
    if (steps < 2) throw new Error('the trapezoid rule needs at least 2 steps');
    const h = 1 / (steps - 1);
    return {
      nodes: idx.map((i) => i * h),
      weights: idx.map((i) => (i === 0 || i === steps - 1 ? h / 2 : h)),
    };
  }
  const offset = rule === 'riemann-left' ? 0 : rule === 'riemann-right' ? 1 : 0.5;
  return { nodes: idx.map((i) => (i + offset) / steps), weights: idx.map(() => 1 / steps) };
}
