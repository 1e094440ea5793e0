import { describe, expect, it } from 'vitest';
import type { HandTransformer } from '../../../src/planted/transformer.js';
import { inductionLM, splitInductionLM, writePlanted } from '../../../fixtures/planted.js';
import { ablationSource, circuitReport, taskOf, type Ablation } from '../../../src/circuit/circuit.js';
import {
  componentName,
  componentsOf,
  logitDifference,
  readActivations,
  type CircuitTask,
  type Component,
} from '../../../src/circuit/components.js';
import { ablateEdgesOutside } from '../../../src/circuit/edgeAblation.js';
import { edgeScores, type Edge } from '../../../src/circuit/edges.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { replaceWith, runWithHooks, type Site, type Tensor } from '../../../src/runtime/hooks.js';

/** The induction LM with each layer's two heads in the other order: the heads that matter are heads 1. */
const swapped = (): HandTransformer => {
  const spec = inductionLM();
  return {
    ...spec,
    name: 'swapped-induction-lm',
    layers: spec.layers.map((l) => ({ heads: [l.heads[1], l.heads[0]] })),
  };
};

const pair = { clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' };

/**
 * Path patching of one edge by hand, as its definition says: run the clean prompt with every component
 * before the receiver held at its clean output but the sender ablated, read the receiver's input there, and
 * run the clean prompt again with only that input replaced (for the logits, the first run is the answer).
 */
async function dropOne(
  model: Model,
  task: CircuitTask,
  components: Component[],
  e: Edge,
  source: (c: Component) => Tensor,
) {
  const sites = (l: number): Site[] => [`layer.${l}.attn.heads.out`, `layer.${l}.mlp.act`];
  const layers = 1 + Math.max(...components.map((c) => c.layer));
  const [clean] = await runWithHooks(model, [task.clean], {
    read: Array.from({ length: layers }, (_, l) => sites(l)).flat(),
  });
  const sender = components.find((c) => componentName(c) === e.sender)!;
  const receiver = components.find((c) => componentName(c) === e.receiver);
  const upTo = receiver ? receiver.layer : layers;
  const write: Record<string, ReturnType<typeof replaceWith>> = {};
  for (let l = 0; l <= Math.min(upTo, layers - 1); l++)
    for (const site of sites(l)) {
      if (site.endsWith('mlp.act') && l >= upTo) continue;
      if (l === upTo && e.input !== 'mlp') continue;
      const value = clean.cache.get(site);
      const data = Float32Array.from(value.data);
      if (sender.layer === l && (sender.kind === 'mlp') === site.endsWith('mlp.act')) {
        const x = source(sender).data;
        data.set(x, sender.kind === 'head' ? sender.head * x.length : 0);
      }
      write[site] = replaceWith(() => ({ data, dims: [1, ...value.dims] }));
    }
  const inputSite = (e.input === 'mlp' ? `layer.${upTo}.mlp.act` : `layer.${upTo}.attn.${e.input}`) as Site;
  const [first] = await runWithHooks(model, [task.clean], { read: receiver ? [inputSite] : [], write });
  if (!receiver) return logitDifference(first.logits, task);
  const [own] = await runWithHooks(model, [task.clean], { read: [inputSite] });
  const data = Float32Array.from(own.cache.get(inputSite).data);
  const heard = first.cache.get(inputSite).data;
  const per = receiver.kind === 'head' ? data.length / own.cache.get(inputSite).dims[0] : data.length;
  const at = receiver.kind === 'head' ? receiver.head * per : 0;
  data.set(heard.subarray(at, at + per), at);
  const dims = [1, ...own.cache.get(inputSite).dims];
  const [second] = await runWithHooks(model, [task.clean], {
    write: { [inputSite]: replaceWith(() => ({ data, dims })) },
  });
  return logitDifference(second.logits, task);
}

describe('edge-by-edge ablation', () => {
  for (const [name, spec] of [
    ['induction', inductionLM],
    ['split induction', splitInductionLM],
    ['swapped induction', swapped],
  ] as const)
    for (const ablation of ['corrupted', 'mean'] as Ablation[])
      it(`${name} LM, ${ablation}: every edge dropped alone matches path patching it by hand; all edges keep the clean metric`, async () => {
        const model = await loadModel(writePlanted(spec()));
        const task = taskOf(model, pair);
        const components = await componentsOf(model, task.clean);
        const [, corrupted] = await readActivations(model, [task.clean, task.corrupted], components);
        const source = ablationSource(ablation, corrupted);
        const edges = await edgeScores(model, {
          task,
          components,
          gradientOf: () => new Float32Array(1e4),
          rule: 'linear',
        });
        const circuits = [edges, ...edges.map((_, i) => edges.filter((__, j) => j !== i))];
        const kept = await ablateEdgesOutside(model, task, components, circuits, source);
        const [full] = await runWithHooks(model, [task.clean], {});
        expect(kept[0]).toBeCloseTo(logitDifference(full.logits, task), 5);
        let moved = 0;
        for (let i = 0; i < edges.length; i++) {
          const byHand = await dropOne(model, task, components, edges[i], source);
          expect(kept[i + 1], `${edges[i].sender} → ${edges[i].receiver}.${edges[i].input}`).toBeCloseTo(byHand, 4);
          moved += Math.abs(byHand - kept[0]) > 1 ? 1 : 0;
        }
        expect(moved).toBeGreaterThanOrEqual(2);
      }, 60_000);

  it('the 2-edge circuit of the induction LM keeps all of it; without its key edge (or its logits edge) nothing', async () => {
    const model = await loadModel(writePlanted(inductionLM()));
    const r = await circuitReport(model, {
      ...pair,
      ...{ method: 'atp*', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16, edges: true },
    });
    expect(r.edges!.ablated).toBe('edges');
    expect(r.edges!.faithfulness).toBeCloseTo(1, 6);
    const curve = r.edges!.curve;
    expect(curve.map((c) => c.size)).toEqual([0, 1, 2, 4, 8, 16, 31]);
    expect(curve.map((c) => c.faithfulness)).toEqual([0, 0, 1, 1, 1, 1, 1].map((x) => expect.closeTo(x, 6)));
    const task = taskOf(model, pair);
    const components = await componentsOf(model, task.clean);
    const [, corrupted] = await readActivations(model, [task.clean, task.corrupted], components);
    const key = { sender: 'L0H0', receiver: 'L1H0', input: 'k' } as const;
    const logits = { sender: 'L1H0', receiver: 'logits', input: 'logits' } as const;
    const sink = { sender: 'L0H1', receiver: 'L1H0', input: 'k' } as const;
    const self = { sender: 'L1H1', receiver: 'logits', input: 'logits' } as const;
    const [none, both, noKey, noLogits, heads1, heads2] = await ablateEdgesOutside(
      model,
      task,
      components,
      [[], [key, logits], [logits], [key], [sink, logits], [key, self]],
      ablationSource('corrupted', corrupted),
    );
    const share = (m: number) => (m - none) / (r.metric.clean - none);
    expect(share(both)).toBeGreaterThanOrEqual(0.95);
    // The sink head and the self head write nothing: edges from them in place of the circuit's keep nothing.
    for (const m of [noKey, noLogits, heads1, heads2]) expect(Math.abs(share(m))).toBeLessThan(1e-6);
  });
});
