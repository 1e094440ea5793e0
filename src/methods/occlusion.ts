import { fullCoalition } from '../masking/replacement.js';
import type { AttributionMethod, Coalition } from './types.js';

function windows(n: number, size: number, stride: number): [number, number][] {
  const w = Math.min(size, n);
  const out: [number, number][] = [];
  for (let start = 0; ; start += stride) {
    const s = Math.min(start, n - w);
    out.push([s, s + w]);
    if (s + w >= n) break;
  }
  return out;
}

/** Each window's coalition: every feature kept but the window's. */
function windowCoalitions(spans: [number, number][], n: number): Coalition[] {
  return spans.map(([s, e]) => {
    const keep = fullCoalition(n);
    keep.fill(0, s, e);
    return keep;
  });
}

/** Leave-one-out (or leave-a-window-out): f(x) − f(x with the window replaced), averaged over the windows covering each feature. */
export const occlusion: AttributionMethod = {
  name: 'occlusion',
  description: 'leave-one-out: the score drop when a feature (or a window of features) is replaced by the baseline',
  params: {
    window: { type: 'int', default: 1, min: 1, max: 4096, description: 'features removed together' },
    stride: { type: 'int', default: 1, min: 1, max: 4096, description: 'step between windows' },
  },
  family: 'perturbation',
  cost: 'exact',
  sampling: false,
  passes: (n, p) => windows(n, p.window, p.stride).length,
  plan: (n, p) => windowCoalitions(windows(n, p.window, p.stride), n),
  async explain(ctx, p) {
    const n = ctx.features.length;
    const spans = windows(n, p.window, p.stride);
    const scores = await ctx.score(windowCoalitions(spans, n));
    const sum = new Array(n).fill(0);
    const count = new Array(n).fill(0);
    spans.forEach(([s, e], w) => {
      for (let i = s; i < e; i++) {
        sum[i] += ctx.fullScore - scores[w];
        count[i] += 1;
      }
    });
    return { values: sum.map((v, i) => v / count[i]) };
  },
};
