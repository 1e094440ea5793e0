import type { MethodChoice } from '../fidelity/choose.js';
import { fittedTable, intervalText } from './format.js';

/** `fidelity --choose`: the candidates it chose from, with intervals, the choice and why. */
export function choiceTable(c: Omit<MethodChoice, 'board'>): string {
  const head = ['method', 'NAOPC comp. [95% CI]', 'passes/example', 'NAOPC per pass [95% CI]', ''];
  const rows = c.candidates.map((x) => [
    x.method,
    intervalText(x.naopc),
    x.passesPerExample.toFixed(1),
    x.efficiency
      ? `${x.efficiency.mean.toPrecision(3)} [${x.efficiency.low.toPrecision(3)}, ${x.efficiency.high.toPrecision(3)}]`
      : '-',
    x.method === c.chosen ? 'chosen' : '',
  ]);
  const q = c.bestByQuality;
  const where = `${c.calibration.examples} calibration examples (${c.calibration.source})${c.cached ? ', cached choice' : ''}`;
  return `${fittedTable(head, rows)}\nchosen: ${c.chosen}${c.separable ? '' : ' (not separable)'} on ${where}\nwhy: ${c.reason}\nby NAOPC alone (cost aside) the best is ${q.method}${q.runnerUp ? `, ${q.separable ? 'separable from' : 'not separable from'} ${q.runnerUp}` : ''}\n`;
}

/** Why --method auto chose its method: the candidates with intervals, above the attribution table. */
export const choiceText = (r: object) =>
  'choice' in r ? choiceTable(r.choice as Omit<MethodChoice, 'board'>) + '\n' : '';
