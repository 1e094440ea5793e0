// @ts-check
/* global console, AbortController */
// interp as a library: explain a sentence with the embedded sentiment model. Run: node examples/explain.mjs
import { explain, loadModel } from 'interp-cli';

const model = await loadModel('sst2-tiny');
const controller = new AbortController(); // controller.abort() stops the call before its next batch
const result = await explain(
  model,
  'the film was a delight',
  { method: 'kernel-shap', samples: 200, seed: 7 },
  { signal: controller.signal, onProgress: ({ passes }) => void passes },
);
// One method gives an attribution; `compare` would give a comparison and `generate` a generation.
if (!('features' in result)) throw new Error('expected one attribution');
console.log(result.schema, result.target.name, result.fullScore.toFixed(4));
for (const feature of result.features) console.log(feature.text.padEnd(10), feature.attribution.toFixed(4));
