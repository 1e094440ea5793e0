import { additiveClassifier, ADDITIVE_WEIGHTS, writePlanted } from '../planted/additive.js';
import { InterpError, usageError } from '../errors.js';
import { explainText } from '../explain.js';
import { loadModel } from '../model/load.js';
import type { Model } from '../model/types.js';
import { spearman } from '../util/stats.js';
import { methodNamed } from './config.js';
import { scoreBothWays } from '../target/agreement.js';
import type { TargetKind } from '../target/kind.js';
import type { AttributionMethod } from './types.js';

/** One conformance check's outcome: what it checks, whether it passed, and what was measured. */
export interface CheckResult {
  check: string;
  pass: boolean;
  detail: string;
}

/** The contract every method meets, built-in or a plugin's, on the planted additive model (a logit that is a sum of word weights). */
const TEXT = 'the movie was great but boring and very fun';
const target = { target: 'POSITIVE', score: 'logit' };
const FAMILIES = ['perturbation', 'gradient', 'attention', 'control'];

let planted: Promise<Model> | undefined;
const plantedModel = () => (planted ??= loadModel(writePlanted(additiveClassifier())));

function boundsCheck(method: AttributionMethod): CheckResult {
  const bad = Object.entries(method.params).filter(
    ([, s]) => !(s.min <= s.default && s.default <= s.max) || !['int', 'float'].includes(s.type),
  );
  const family = FAMILIES.includes(method.family);
  return {
    check: 'bounds',
    pass: bad.length === 0 && family,
    detail: !family
      ? `family '${method.family}' is not one of ${FAMILIES.join(', ')}`
      : bad.length
        ? `min ≤ default ≤ max fails for ${bad.map(([n]) => n).join(', ')}`
        : `${Object.keys(method.params).length} parameters: min ≤ default ≤ max`,
  };
}

/** A parameter past its maximum is refused as a usage error. */
async function enforcedCheck(model: Model, method: AttributionMethod): Promise<CheckResult> {
  const [name, spec] = Object.entries(method.params)[0] ?? [];
  if (!name) return { check: 'bounds enforced', pass: true, detail: 'no parameters' };
  try {
    await explainText(model, { text: TEXT, method: method.name, target, params: { [name]: spec.max + 1 } });
    return { check: 'bounds enforced', pass: false, detail: `${name} = ${spec.max + 1} was accepted` };
  } catch (e) {
    const usage = e instanceof InterpError && e.kind === 'usage';
    return { check: 'bounds enforced', pass: usage, detail: `${name} = ${spec.max + 1}: ${(e as Error).message}` };
  }
}

/** Run every check on a registered method; a check that throws fails with the error as its detail. */
export async function checkMethod(name: string): Promise<CheckResult[]> {
  const method = methodNamed(name);
  const model = await plantedModel();
  const results = [boundsCheck(method), await enforcedCheck(model, method)];
  const guarded = async (check: string, run: () => Promise<CheckResult>) => {
    try {
      results.push(await run());
    } catch (e) {
      results.push({ check, pass: false, detail: (e as Error).message.split('\n')[0] });
    }
  };
  const once = () => explainText(model, { text: TEXT, method: name, target, seed: 3 });
  await guarded('determinism', async () => {
    const [a, b] = [await once(), await once()];
    const finite =
      a.features.length === TEXT.split(' ').length && a.features.every((f) => Number.isFinite(f.attribution));
    const same = JSON.stringify(a) === JSON.stringify(b);
    const cost = method.cost === 'exact' ? a.forwardPasses === a.declaredCost : a.forwardPasses <= a.declaredCost;
    const pass = finite && same && cost;
    const detail = `${finite ? 'finite, one per feature' : 'NOT one finite value per feature'}; ${same ? 'same bytes' : 'DIFFERENT bytes'} for seed 3; ${a.forwardPasses} passes, declared ${a.declaredCost} (${method.cost})`;
    return { check: 'determinism', pass, detail };
  });
  if (method.completeness)
    await guarded('completeness', async () => {
      const r = await once();
      // The pipeline's own figure: a plugin cannot report a sum of its own making.
      const gap = r.completeness?.error ?? Number.NaN;
      return {
        check: 'completeness',
        pass: gap < 1e-4,
        detail: `|Σφ − (f(x) − f(baseline))| = ${gap.toExponential(2)} (< 1e-4)`,
      };
    });
  // Perturbation methods and complete ones recover a sum of word weights; gradient norms (saliency),
  // attention and controls promise no such thing.
  if (method.family === 'perturbation' || method.completeness)
    await guarded('planted recovery', async () => {
      const r = await once();
      const rho = spearman(
        r.features.map((f) => f.attribution),
        TEXT.split(' ').map((w) => ADDITIVE_WEIGHTS[w]),
      );
      return {
        check: 'planted recovery',
        pass: rho >= 0.9,
        detail: `Spearman ρ with the planted weights = ${rho.toFixed(3)} (≥ 0.9)`,
      };
    });
  return results;
}

/** The example a target kind declares, scored on the CPU and by its graph head: they agree to 1e-5. */
async function checkTarget(kind: TargetKind): Promise<CheckResult> {
  const check = 'CPU score = graph head';
  if (!kind.example) return { check, pass: false, detail: 'the kind declares no example to score' };
  try {
    const { model, text, request } = kind.example;
    const [cpu, graph] = await scoreBothWays(await loadModel(model), text, { ...request, kind: kind.kind });
    const gap = Math.abs(cpu - graph);
    return {
      check,
      pass: gap < 1e-5,
      detail: `CPU ${cpu.toFixed(6)}, graph ${graph.toFixed(6)}: |Δ| = ${gap.toExponential(2)} (< 1e-5)`,
    };
  } catch (e) {
    return { check, pass: false, detail: (e as Error).message.split('\n')[0] };
  }
}

/** Load a plugin file and check each method and target kind it registers: the work of `interp check-method`. */
export async function checkPlugin(file: string): Promise<{ name: string; results: CheckResult[] }[]> {
  const { loadPlugin } = await import('../plugins.js');
  const plugin = await loadPlugin(file);
  if (!plugin.methods?.length && !plugin.targets?.length)
    throw usageError(`plugin '${file}' registers no methods or target kinds to check`);
  const out = [];
  for (const m of plugin.methods ?? []) out.push({ name: m.name, results: await checkMethod(m.name) });
  for (const t of plugin.targets ?? []) out.push({ name: `target ${t.kind}`, results: [await checkTarget(t)] });
  return out;
}
