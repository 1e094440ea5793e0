import { attention, attentionRollout } from './attention.js';
import { gradXInput } from './gradXInput.js';
import { integratedGradients } from './integratedGradients.js';
import { kernelShap } from './kernelShap.js';
import { lime } from './lime.js';
import { lrp } from './lrp.js';
import { occlusion } from './occlusion.js';
import { partitionShap } from './partitionShap.js';
import { randomAttribution } from './random.js';
import { saliency } from './saliency.js';
import { shapley } from './shapley.js';
import { smoothGrad } from './smoothGrad.js';
import type { AttributionMethod } from './types.js';

/** Every attribution method by name: adding a method is one file and one line here. */
export const METHODS: Record<string, AttributionMethod> = Object.fromEntries(
  [
    occlusion,
    shapley,
    kernelShap,
    partitionShap,
    lime,
    saliency,
    gradXInput,
    integratedGradients,
    smoothGrad,
    lrp,
    attention,
    attentionRollout,
    randomAttribution,
  ].map((m) => [m.name, m]),
);
