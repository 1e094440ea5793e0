import type { CircuitReport } from '../circuit/circuit.js';
import { listOf, shortName, summaryOf, type Candidate, type Summary } from './claims.js';

const percent = (x: number) => `${(100 * x).toFixed(0)} %`;

/**
 * A circuit in words. Each sentence reads a number that was measured: the share the top components keep
 * was measured by ablating every other component (the faithfulness curve: (kept − none) / (all − none)), and
 * the estimate's agreement with exact patching by patching each component.
 */
export function summarizeCircuit(r: CircuitReport): Summary {
  const { atK } = r.faithfulness;
  const k = r.circuit.length;
  const gap = r.metric.clean - r.metric.corrupted;
  const top = r.components[0];
  const candidates: Candidate[] = [
    {
      text:
        `On ${shortName(r.model)}, ablating (${r.ablation}) everything but ${k === 1 ? 'one component' : `these ${k} components`}, ` +
        `${listOf(r.circuit)}, keeps ${percent(atK)} of the logit difference that ablating every component takes away` +
        (atK < 0.5 ? ': the behaviour is carried more widely than this circuit' : ''),
      evidence: ['/circuit', '/faithfulness/atK', '/faithfulness/curve'],
    },
    r.rankedBy === 'gradDrop'
      ? {
          text: `${top.component} has the largest GradDrop score, ${top.gradDrop!.score.toFixed(3)} (its ${r.method} estimate ${top.effect.toFixed(3)}) against a clean − corrupted gap of ${gap.toFixed(3)}`,
          evidence: ['/components/0/gradDrop/score', '/components/0/effect', '/metric'],
        }
      : {
          text: `${top.component} has the largest ${r.method === 'patch' ? 'patched' : 'estimated'} effect, ${top.effect.toFixed(3)} against a clean − corrupted gap of ${gap.toFixed(3)}`,
          evidence: ['/components/0/effect', '/metric'],
        },
  ];
  if (r.agreement?.gradDrop)
    candidates.push({
      text: `GradDrop's scores rank the components as exact patching's |effect| does with Spearman ρ = ${r.agreement.gradDrop.spearman.toFixed(2)}`,
      evidence: ['/agreement/gradDrop/spearman'],
    });
  if (r.agreement)
    candidates.push({
      text:
        `The ${r.method} estimates rank the components as exact patching does with Spearman ρ = ${r.agreement.spearman.toFixed(2)}` +
        (r.agreement.spearman < 0.5 ? ': read its ranking with care' : ''),
      evidence: ['/agreement/spearman'],
    });
  return summaryOf(candidates);
}
