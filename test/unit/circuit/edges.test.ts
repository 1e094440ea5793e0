import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, splitInductionLM, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport, type CircuitReport, type CircuitRequest } from '../../../src/circuit/circuit.js';
import { componentsOf } from '../../../src/circuit/components.js';
import { edgeCount } from '../../../src/circuit/edges.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { runWithHooks, type Site } from '../../../src/runtime/hooks.js';
import { encodeText } from '../../../src/text/encode.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

const request: CircuitRequest = {
  ...{ clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' },
  ...{ method: 'atp*', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16, edges: true },
};
const byName = (r: CircuitReport) => Object.fromEntries(r.components.map((c) => [c.component, c]));
const edge = (r: CircuitReport, name: string) => r.edges!.ranking.find((e) => e.edge === name)!;

/**
 * The planted induction LM: the previous-token head L0H0 acts only through the induction head L1H0's keys,
 * whose softmax is saturated at the clean input. Exact patching of either head moves the metric by −11.25.
 */
describe('AtP* and edges on the planted induction LM', () => {
  let model: Model;
  let dir: string;
  beforeAll(async () => {
    dir = writePlanted(inductionLM());
    model = await loadModel(dir);
  });

  it('the attention-input hook sites: scores = q · k where the induction head has no bias, values as the heads multiply them', async () => {
    const sites = ['scores', 'q', 'k', 'v', 'heads.out', 'pattern'].map((k) => `layer.1.attn.${k}` as Site);
    const ids = encodeText(model, request.clean).ids;
    const [run] = await runWithHooks(model, [ids], { read: sites });
    const [S, q, kT, v, z, A] = sites.map((x) => run.cache.get(x));
    const T = ids.length;
    const d = q.dims[2];
    expect([S.dims, q.dims, kT.dims, v.dims]).toEqual([
      [2, T, T],
      [2, T, d],
      [2, d, T],
      [2, T, d],
    ]);
    let checked = 0;
    for (let t = 0; t < T; t++)
      for (let s = 0; s <= t; s++) {
        let x = 0;
        for (let i = 0; i < d; i++) x += q.data[t * d + i] * kT.data[i * T + s];
        expect(S.data[t * T + s]).toBeCloseTo(x, 4);
        checked += x !== 0 ? 1 : 0;
      }
    expect(checked).toBeGreaterThan(0);
    // Head 0's output is its pattern × its values.
    for (let t = 0; t < T; t++)
      for (let i = 0; i < d; i++) {
        let x = 0;
        for (let s = 0; s < T; s++) x += A.data[t * T + s] * v.data[s * d + i];
        expect(z.data[t * d + i]).toBeCloseTo(x, 4);
      }
  });

  it('AtP* recovers the previous-token head that plain AtP misses: −11.25, as exact patching (Spearman 0.980)', async () => {
    const [atp, star] = [
      await circuitReport(model, { ...request, method: 'atp' }),
      await circuitReport(model, request),
    ];
    expect(Math.abs(byName(atp).L0H0.effect)).toBeLessThan(1e-6);
    for (const c of star.components) expect(c.effect).toBeCloseTo(c.exact!, 5);
    expect(byName(star).L0H0.effect).toBeCloseTo(-11.25, 5);
    expect(star.circuit.sort()).toEqual(['L0H0', 'L1H0']);
    expect(star.agreement!.spearman).toBeCloseTo(0.9797958971, 8);
    expect(atp.agreement!.spearman).toBe(0);
  });

  it('the previous-token head → induction head key edge tops the AtP* edges, and the edge circuit at k = 2 keeps it all', async () => {
    const r = await circuitReport(model, request);
    expect(r.edges!.circuit.sort()).toEqual(['L0H0 → L1H0.k', 'L1H0 → logits']);
    expect(edge(r, 'L0H0 → L1H0.k').score).toBeCloseTo(-11.25, 5);
    expect(edge(r, 'L1H0 → logits').score).toBeCloseTo(-11.25, 5);
    // Nothing else: the queries and values of the induction head read tokens, which no head writes.
    for (const e of r.edges!.ranking.slice(2)) expect(Math.abs(e.score)).toBeLessThan(1e-6);
    expect(r.edges!.components).toEqual(['L0H0', 'L1H0']);
    expect(r.edges!.faithfulness).toBeGreaterThanOrEqual(0.95);
    expect(r.edges!.faithfulness).toBeCloseTo(1, 9);
  });

  it('EAP is complete: a component’s edges sum to its attribution-patching estimate; --threshold picks edges by |score|', async () => {
    const r = await circuitReport(model, { ...request, method: 'atp', threshold: 1 });
    for (const c of r.components) {
      const out = r.edges!.ranking.filter((e) => e.sender === c.component).reduce((s, e) => s + e.score, 0);
      expect(out).toBeCloseTo(c.effect, 5);
    }
    // Linearly through the saturated softmax, the key edge is lost as AtP loses the head.
    expect(Math.abs(edge(r, 'L0H0 → L1H0.k').score)).toBeLessThan(1e-6);
    expect(r.edges!.circuit).toEqual(['L1H0 → logits']);
  });

  it('EAP-IG integrates the gradient at the receivers’ inputs: the key edge tops the head edges, −2.04 at 16 and 256 steps', async () => {
    const [r, fine] = [
      await circuitReport(model, { ...request, method: 'ig' }),
      await circuitReport(model, { ...request, method: 'ig', steps: 256 }),
    ];
    expect(r.edges!.circuit.sort()).toEqual(['L0H0 → L1H0.k', 'L1H0 → logits']);
    // The clean softmax is saturated: the clean pattern with path-averaged head gradients gave −0.083. On the
    // path the queries and values move too, so the key edge's share of the −11.25 is −2.04 (converged: 256
    // midpoints agree with 16 to 1 %).
    expect(edge(r, 'L0H0 → L1H0.k').score).toBeCloseTo(-2.0628, 3);
    expect(edge(fine, 'L0H0 → L1H0.k').score).toBeCloseTo(-2.0423, 3);
    for (const e of r.edges!.ranking.slice(2)) expect(Math.abs(e.score)).toBeLessThan(1e-6);
    // Complete by the chain rule (no normalisation here): a component's edges sum to its EAP-IG estimate.
    for (const c of r.components) {
      const out = r.edges!.ranking.filter((e) => e.sender === c.component).reduce((s, e) => s + e.score, 0);
      expect(out).toBeCloseTo(c.effect, 5);
    }
    expect(byName(r).L0H0.effect).toBeCloseTo(-2.0628, 3);
  });

  it('the CLI gates on the edge circuit with --edges, and --edges with exact patching is a usage error', async () => {
    const args = ['circuit', request.clean, '--corrupted', request.corrupted, '--answer', ' c', '--wrong', ' a'];
    const gated = [...args, '--model', dir, '--method', 'atp*', '--edges', '--min-faithfulness', '0.95'];
    expectExit(await runInProcess([...gated, '--k', '2']), 0);
    expectExit(
      await runInProcess([...gated, '--threshold', '20']),
      3,
      /the 0-edge circuit keeps 0\.0000 of the logit difference < 0\.95/,
    );
    expectExit(
      await runInProcess([...args, '--model', dir, '--method', 'patch', '--edges']),
      2,
      /--method patch scores components only/,
    );
    expectExit(await runInProcess([...args, '--model', dir, '--threshold', '1']), 2, /--threshold selects edges/);
    // 31 edges: AtP* (which sums them) and --edges stop at a smaller --edge-budget, before any run.
    expect(edgeCount(await componentsOf(model, encodeText(model, request.clean).ids))).toBe(31);
    expectExit(await runInProcess([...gated, '--k', '2', '--edge-budget', '31']), 0);
    for (const method of ['atp*', 'ig'])
      expectExit(
        await runInProcess([...args, '--model', dir, '--method', method, '--edges', '--edge-budget', '30']),
        2,
        /this model has 31 edges to score, more than --edge-budget 30 allows/,
      );
  });
});

/**
 * Two previous-token heads split the signal the induction head's keys read; each alone carries the
 * behaviour (exact effect −9.9945 each), through a softmax saturated at the clean input.
 */
describe('AtP* on the planted split-induction LM', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(writePlanted(splitInductionLM()));
  });

  it('plain AtP sees 0.8 % of each previous-token head; AtP* ranks both with the induction head, at their exact effects', async () => {
    const [atp, star] = [
      await circuitReport(model, { ...request, method: 'atp', k: 3 }),
      await circuitReport(model, { ...request, k: 3 }),
    ];
    const drop = star.metric.corrupted - star.metric.clean;
    for (const h of ['L0H0', 'L0H1']) {
      expect(byName(star)[h].exact).toBeCloseTo(drop, 3);
      expect(Math.abs(byName(atp)[h].effect)).toBeLessThan(0.01 * Math.abs(drop));
      expect(byName(star)[h].effect).toBeCloseTo(byName(star)[h].exact!, 4);
    }
    expect(star.circuit.sort()).toEqual(['L0H0', 'L0H1', 'L1H0']);
    expect(star.agreement!.pearson).toBeCloseTo(1, 9);
    expect(star.agreement!.spearman).toBeGreaterThanOrEqual(0.9);
    expect(star.agreement!.spearman).toBeCloseTo(0.9486832981, 8);
    expect(star.edges!.circuit.slice(0, 3).sort()).toEqual(['L0H0 → L1H0.k', 'L0H1 → L1H0.k', 'L1H0 → logits']);
  });
});
