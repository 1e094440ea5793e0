import type { AttributionMethod } from './types.js';

/** Uniform random attributions: the control that any real method should beat on faithfulness. */
export const randomAttribution: AttributionMethod = {
  name: 'random',
  description: 'uniform random attributions (a control for fidelity metrics, not an explanation)',
  params: {},
  family: 'control',
  cost: 'exact',
  sampling: true,
  passes: () => 0,
  async explain(ctx) {
    return { values: ctx.features.map(() => ctx.rng.next() * 2 - 1) };
  },
};
