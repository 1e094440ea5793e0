import type { TopLevelSpec } from 'vega-lite';
import type { BenchReport } from '../bench.js';
import { fittedTable } from './format.js';

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

const HEAD = [
  'model',
  'method',
  'tokens',
  'features',
  'forward passes',
  'declared',
  'median ms',
  'min–max ms',
  'raw ms',
  'ratio',
  'plain fwd ms',
  'vs fwd',
  'expl/s',
  'tokens/s',
  'peak RSS MB',
];

function cells(r: BenchReport['rows'][number]): string[] {
  return [
    r.model,
    r.method,
    String(r.length),
    String(r.features),
    String(r.forwardPasses),
    String(r.declaredCost),
    ms(r.medianMs),
    `${ms(r.minMs)}–${ms(r.maxMs)}`,
    ms(r.rawMs),
    r.ratio.toFixed(2),
    ms(r.forwardMs),
    r.vsForwards.toFixed(2),
    r.explanationsPerSecond.toFixed(1),
    r.tokensPerSecond.toFixed(0),
    r.peakRssMb.toFixed(0),
  ];
}

function footer(report: BenchReport): string[] {
  const lines: string[] = [];
  if (report.coldStart)
    lines.push(
      `Cold start (process start to JSON out, explain on ${report.coldStart.model}): median ${ms(report.coldStart.medianMs)} ms over ${report.coldStart.runs} runs (min ${ms(report.coldStart.minMs)} ms); CPU time (user + system) median ${ms(report.coldStart.medianCpuMs)} ms.`,
    );
  for (const c of report.circuit ?? [])
    lines.push(
      `Circuit on ${c.model} at ${c.tokens} tokens, ${c.components} heads and MLPs: attribution patching ${ms(c.atp.ms)} ms (${c.atp.forwardPasses} forward, ${c.atp.backwardPasses} backward passes) against exact patching ${ms(c.exact.ms)} ms (${c.exact.forwardPasses} forward passes), ${c.speedup.toFixed(1)}× faster; estimates against exact effects: Spearman ${c.spearman.toFixed(3)}, Pearson ${c.pearson.toFixed(3)}; the scores hold ${(c.scoreBytes / 2 ** 20).toFixed(1)} MiB (activations, corrupted activations and gradients, float32); peak RSS ${c.peakRssMb.toFixed(0)} MB.`,
    );
  for (const e of report.circuitEdges ?? [])
    lines.push(
      `EAP-IG edges on ${e.model} at ${e.tokens} tokens: ${e.edges} edges between ${e.components} heads and MLPs, ${e.steps} steps, ${ms(e.ms)} ms (${e.forwardPasses} forward, ${e.backwardPasses} backward passes, at most ${e.sessions} sessions open); the edge scores hold ${(e.edgeScoreBytes / 2 ** 10).toFixed(0)} KiB and the path gradients they come from ${(e.pathGradientBytes / 2 ** 20).toFixed(1)} MiB; RSS ${e.rssBeforeMb.toFixed(0)} MB before, peak ${e.peakRssMb.toFixed(0)} MB.`,
    );
  for (const s of report.skipped) lines.push(`Skipped ${s.model} at ${s.length} tokens: ${s.reason}.`);
  return lines;
}

export function benchTable(report: BenchReport): string {
  return [fittedTable(HEAD, report.rows.map(cells), 3), ...footer(report)].join('\n') + '\n';
}

/** BENCHMARKS.md, as the command writes it: machine, date, settings and the table. */
export function benchMarkdown(report: BenchReport, command: string): string {
  const m = report.machine;
  const lines = [
    '# Benchmarks',
    '',
    `Produced by \`${command}\` on ${report.date.slice(0, 10)}.`,
    '',
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GiB, ${m.platform}; Node ${m.node}; onnxruntime-node ${m.onnxruntime}. Runs: ${report.settings.runs} after ${report.settings.warmup} warm-up; threads: ${report.settings.threads ?? 'onnxruntime default'}.`,
    '',
    "`raw ms` is the time spent inside the method's own onnxruntime session runs (timed in place, median over runs), and `ratio` the method's median wall time over it: 1.00 means no overhead beyond the forward passes. `forward passes` counts sequences run; `declared` is the method's declared cost (an upper bound for sampling methods, which run a repeated coalition once). `plain fwd ms` is the median time of as many plain forward passes of the input as the method ran, batched as usual, and `vs fwd` the median over runs of the method's time over the plain forwards timed right after it: for gradient methods, where every pass also runs backward, it is the price of the backward graph (integrated-gradients with 50 steps against 50 forwards).",
    '',
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...report.rows.map((r) => `| ${cells(r).join(' | ')} |`),
    '',
    ...footer(report),
    '',
  ];
  return lines.join('\n');
}

/** Median time against input length, one line per method, log scale; one panel per model. */
export function benchChart(report: BenchReport): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'interp bench: time per explanation',
    data: {
      values: report.rows.map((r) => ({
        model: r.model,
        method: r.method,
        length: r.length,
        ms: r.medianMs,
        ratio: r.ratio,
      })),
    },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'length', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'input tokens' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'median ms per explanation' },
        color: { field: 'method', type: 'nominal' },
        tooltip: [
          { field: 'method' },
          { field: 'length' },
          { field: 'ms', format: '.1f' },
          { field: 'ratio', format: '.2f' },
        ],
      },
    },
  } as TopLevelSpec;
}
