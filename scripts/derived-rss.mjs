/* global process, console */
// RSS of one Node process that runs explain IG, attention, concepts lens and patch in turn on one model
// through the library (as a long-lived server or library user does): node scripts/derived-rss.mjs MODEL_DIR [rounds]
import { loadModel, explain, attention, lens, patch } from '../dist/src/index.js';
import { openSessions } from '../dist/src/runtime/session.js';

const dir = process.argv[2];
const rounds = Number(process.argv[3] ?? 1);
const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const text = 'The capital of France is';
const show = (step) =>
  console.log(`${step.padEnd(10)} rss ${String(mb()).padStart(5)} MB  open sessions ${openSessions().open}`);
const model = await loadModel(dir);
show('loaded');
for (let round = 1; round <= rounds; round++) {
  await explain(model, text, { method: 'integrated-gradients' });
  show('explain-ig');
  await attention(model, text);
  show('attention');
  await lens(model, text);
  show('lens');
  await patch(model, text, { corrupt: 'France' });
  show('patch');
}
globalThis.gc?.();
show('end');
