import type { ChainReport } from '../chain/chain.js';
import { heldOutText } from '../chain/heldOut.js';
import { listOf, quoted, scoreText, shortName, signedText, summaryOf, type Candidate, type Summary } from './claims.js';

const clip = (text: string) => {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 60 ? `${t.slice(0, 59)}…` : t;
};

/** What the answer rests on, checked by the removal run the chain made, and how well the surrogate fits. */
export function summarizeChain(r: ChainReport): Summary {
  const claims: Candidate[] = [];
  const answer = r.segments[r.answer.segment];
  const target = r.targets.find((t) => t.segment === r.answer.segment);
  const named = (i: number, weight: number) =>
    `segment ${i} (${quoted(clip(r.segments[i].text))}, weight ${signedText(weight, 2)})`;
  const support = r.answer.support.filter((s) => s.weight > 0).slice(0, 2);
  claims.push({
    text: `On ${shortName(r.model)}, the text has ${r.segments.length} segments, ${r.segments.filter((s) => s.source === 'prompt').length} of them from the prompt; the answer is segment ${answer.index}: ${quoted(clip(answer.text))}`,
    evidence: [`/segments/${answer.index}`],
  });
  if (support.length && target) {
    claims.push({
      text: `It rests most on ${listOf(support.map((s) => named(s.segment, s.weight)))}.`,
      evidence: ['/answer/support'],
    });
  } else claims.push({ text: 'No earlier segment measurably supports it.', evidence: ['/answer/support'] });
  const check = r.answer.check;
  if (check) {
    const margin = Math.max(0.1, 0.05 * Math.abs(check.before));
    const [before, after] = [scoreText(check.before, 'log'), scoreText(check.after, 'log')];
    const { removed } = check;
    const verification = { kind: 'remove' as const, features: removed, before: check.before, after: check.after };
    const holds = check.after < check.before - margin;
    claims.push({
      text: `Removing ${listOf(removed.map((i) => `segment ${i}`))} lowers the answer's log-probability from ${before} to ${after}.`,
      evidence: ['/answer/check'],
      verification: { ...verification, forwardPasses: 1 },
      holds,
      reason: `removing them moved it to ${after} (from ${before})`,
    });
    const moved = check.after > check.before + margin ? 'raise it' : 'barely move it';
    if (!holds)
      claims.push({
        text: `Yet removed together, they ${moved} (${before} → ${after}): what they say is also said elsewhere, so the weights do not simply add up.`,
        evidence: ['/answer/check'],
        verification: { ...verification, forwardPasses: 0 },
      });
  }
  if (target?.lds) {
    const { value, low, high } = target.lds;
    const weak = value < 0.3 ? '; the weights are a weak guide here' : '';
    claims.push({
      text: `${target.method === 'surrogate' ? 'The surrogate' : 'Leave-one-out'} predicts the answer's log-probability under held-out ablations (${heldOutText(target.lds.heldOut, target.lds.n)}) with LDS ${value.toFixed(2)} [${low.toFixed(2)}, ${high.toFixed(2)}]${weak}.`,
      evidence: [`/targets/${r.targets.indexOf(target)}/lds`],
    });
  }
  return { ...summaryOf(claims), forwardPasses: 0 };
}
