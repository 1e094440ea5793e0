// An attribution method as a plugin: leave-one-out against a mean baseline. Each feature's value is
// f(x) − f(x without it), less the mean drop over all features, so that a feature counts for what it moves
// beyond the average feature; `--shrink` blends that mean in (0: plain occlusion, 1: fully centred).
// Use: --plugin examples/plugins/mean-occlusion.js --method mean-occlusion.
import { fullCoalition } from 'interp-cli';

/** @type {import('interp-cli').AttributionMethod} */
export const meanOcclusion = {
  name: 'mean-occlusion',
  description: 'leave-one-out against the mean drop: how much more a feature moves the score than the average feature',
  params: {
    shrink: { type: 'float', default: 0, min: 0, max: 1, description: 'how much of the mean drop to subtract' },
  },
  family: 'perturbation',
  cost: 'exact',
  sampling: false,
  passes: (n) => n,
  async explain(ctx, p) {
    const n = ctx.features.length;
    const coalitions = ctx.features.map((_, i) => {
      const keep = fullCoalition(n);
      keep[i] = 0;
      return keep;
    });
    const drops = (await ctx.score(coalitions)).map((s) => ctx.fullScore - s);
    const mean = drops.reduce((a, b) => a + b, 0) / n;
    return { values: drops.map((d) => d - p.shrink * mean), diagnostics: { meanDrop: mean } };
  },
};

export default { methods: [meanOcclusion] };
