import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inductionLM, PLANTED_HEADS, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport } from '../../../src/circuit/circuit.js';
import { componentsOf, type CircuitTask } from '../../../src/circuit/components.js';
import { directLogitAttribution } from '../../../src/circuit/dla.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { encodeText } from '../../../src/text/encode.js';
import { hasShared, llama, repoRoot } from '../../helpers.js';

/** The task on `prompt`: the first tokens of two continuations (any two tokens decompose alike). */
function taskOf(model: Model, prompt: string, answer: string, wrong: string): CircuitTask {
  const clean = encodeText(model, prompt).ids;
  const one = (w: string) => {
    const ids = encodeText(model, prompt + w).ids.slice(clean.length);
    expect(ids.length).toBeGreaterThan(0);
    return ids[0];
  };
  return { clean, corrupted: clean, answer: one(answer), wrong: one(wrong) };
}

/**
 * Σ terms = the logit difference at every position, to float rounding (measured: 6e-8 of 10 on the planted
 * LM, 1.3e-6 of 4.3 on tiny-lm, 6.2e-6 of 5.2 on the llama; leaving out LayerNorm's centring gives 3.8e-3).
 */
async function completeness(model: Model, task: CircuitTask) {
  const components = await componentsOf(model, task.clean);
  const { attribution: a } = await directLogitAttribution(model, task, components);
  expect(a.components).toHaveLength(components.length);
  const scale = Math.max(...a.logitDifference.map(Math.abs));
  for (const r of a.residual) expect(Math.abs(r)).toBeLessThan(1e-5 * Math.max(1, scale));
  return a;
}

describe('direct logit attribution', () => {
  it('planted induction LM (no final norm): the induction head writes the whole logit difference, every other component nothing', async () => {
    const model = await loadModel(writePlanted(inductionLM()));
    const task = taskOf(model, 'a b c d . a b', ' c', ' a');
    const a = await completeness(model, task);
    const T = task.clean.length;
    expect(a.norm).toBe('none');
    // The unembedding reads only the induction channel, which only the induction head writes: its
    // term is the logit difference (10 = 10 · (attention on c) − 10 · (attention on a), here saturated).
    expect(a.logitDifference[T - 1]).toBeCloseTo(10, 5);
    const byName = Object.fromEntries(a.components.map((c) => [c.component, c.perPosition]));
    const { induction } = PLANTED_HEADS;
    expect(byName[`L${induction.layer}H${induction.head}`][T - 1]).toBeCloseTo(10, 5);
    for (const [name, terms] of Object.entries(byName))
      if (name !== `L${induction.layer}H${induction.head}`)
        for (const x of terms) expect(Math.abs(x)).toBeLessThan(1e-6);
    for (const x of [...a.embeddings, ...a.biases]) expect(Math.abs(x)).toBeLessThan(1e-6);
  });

  it('tiny GPT-2 (LayerNorm, biases, tied unembedding): the terms sum to the logit difference at every position', async () => {
    const model = await loadModel(path.join(repoRoot, 'models', 'tiny-lm'));
    const a = await completeness(model, taskOf(model, 'the film was a long and quiet', ' one', ' film'));
    expect(a.norm).toBe('layer');
    // The decomposition spreads over many writers: no single term is the whole difference.
    const T = a.logitDifference.length;
    const last = a.components.map((c) => Math.abs(c.perPosition[T - 1]));
    expect(Math.max(...last)).toBeLessThan(Math.abs(a.logitDifference[T - 1]) + last.reduce((x, y) => x + y, 0));
    expect(a.biases.some((b) => Math.abs(b) > 1e-3)).toBe(true);
  });

  it.skipIf(!hasShared)(
    'shared llama (RMSNorm, no biases): the terms sum to the logit difference at every position',
    async () => {
      const model = await loadModel(llama);
      const a = await completeness(
        model,
        taskOf(model, 'Lily and Tom went to the park. Tom gave a ball to', ' Lily', ' Tom'),
      );
      expect(a.norm).toBe('rms');
      for (const b of a.biases) expect(b).toBe(0);
    },
  );

  it('--method dla ranks by direct effect: exact for the induction head, blind to the previous-token head that acts through it', async () => {
    const r = await circuitReport(await loadModel(writePlanted(inductionLM())), {
      ...{ clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' },
      ...{ method: 'dla', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16 },
    });
    const byName = Object.fromEntries(r.components.map((c) => [c.component, c]));
    const { induction, previousToken } = PLANTED_HEADS;
    const [ind, prev] = [induction, previousToken].map((h) => byName[`L${h.layer}H${h.head}`]);
    // The induction head writes the logits directly: its direct effect is its whole patching effect.
    expect(ind.effect).toBeCloseTo(r.metric.corrupted - r.metric.clean, 5);
    expect(ind.effect).toBeCloseTo(ind.exact!, 5);
    expect(r.components[0].component).toBe(ind.component);
    // The previous-token head writes nothing the unembedding reads, though patching it breaks the behaviour.
    expect(prev.effect).toBe(0);
    expect(prev.exact).toBeCloseTo(r.metric.corrupted - r.metric.clean, 5);
    const T = r.dla!.logitDifference.length;
    expect(r.dla!.logitDifference[T - 1]).toBeCloseTo(r.metric.clean, 6);
    expect(r.dla!.components.find((c) => c.component === ind.component)!.perPosition[T - 1]).toBeCloseTo(10, 5);
  });
});
