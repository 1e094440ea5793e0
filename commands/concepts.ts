import Table from 'cli-table3';
import { Command } from 'commander';
import type { TopLevelSpec } from 'vega-lite';
import { collectActivations, corpusLines, type TokenActivations } from '../src/concepts/activations.js';
import { chooseK, kMeans, nmf, pca2, type Points } from '../src/concepts/cluster.js';
import { logitLens, type LensResult } from '../src/concepts/lens.js';
import { usageError } from '../src/errors.js';
import type { Model } from '../src/model/types.js';
import { formatNumber, visible } from '../src/render/format.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { idsAfterPrompt, resolveTarget } from '../src/target/target.js';
import { tcav } from '../src/concepts/tcav.js';
import { encodeText } from '../src/text/encode.js';
import { addModelOptions, examples, openModel, parseInteger, withSpinner, writeStdout, type ModelFlags } from './common.js';

interface CorpusFlags extends ModelFlags {
  data?: string;
  layer?: string;
  maxTokens: string;
  seed: string;
  top: string;
  json?: boolean;
  svg?: string;
}

async function defaultLayer(model: Model, raw: string | undefined, source: 'hidden' | 'mlp'): Promise<number> {
  const inst = await model.instrumented();
  const count = source === 'hidden' ? inst.outputs.hiddenStates.length : inst.outputs.mlp.length;
  return raw === undefined ? count - 1 : parseInteger('--layer', raw, 0);
}

/** A token in its line, marked: "… the [[film]] was …". */
function context(acts: TokenActivations, i: number, width = 40): string {
  const t = acts.tokens[i];
  const e = acts.lines[t.line];
  const [s, end] = e.offsets[t.position];
  const before = e.text.slice(Math.max(0, s - width), s);
  const after = e.text.slice(end, end + width);
  return `${s > width ? '…' : ''}${before}[[${e.text.slice(s, end)}]]${after}${end + width < e.text.length ? '…' : ''}`.replace(/\s+/g, ' ');
}

interface ClusterRow {
  cluster: number;
  size: number;
  topByFrequency: { token: string; count: number }[];
  topByDistinctiveness: { token: string; count: number; lift: number }[];
  examples: string[];
}

/** Per cluster: its most frequent tokens, its most distinctive ones (share in the cluster over share in the corpus), and example contexts. */
export function describeClusters(acts: TokenActivations, labels: Int32Array, k: number, top: number, seed: number): ClusterRow[] {
  const corpus = new Map<string, number>();
  for (const t of acts.tokens) corpus.set(t.text.toLowerCase(), (corpus.get(t.text.toLowerCase()) ?? 0) + 1);
  return Array.from({ length: k }, (_, c) => {
    const members = acts.tokens.map((_, i) => i).filter((i) => labels[i] === c);
    const counts = new Map<string, number>();
    for (const i of members) counts.set(acts.tokens[i].text.toLowerCase(), (counts.get(acts.tokens[i].text.toLowerCase()) ?? 0) + 1);
    const byFrequency = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([token, count]) => ({ token, count }));
    const lift = [...counts.entries()]
      .filter(([, n]) => n >= 2)
      .map(([token, count]) => ({ token, count, lift: count / members.length / ((corpus.get(token) ?? 1) / acts.n) }))
      .sort((a, b) => b.lift - a.lift || b.count - a.count)
      .slice(0, top);
    // Three examples spread over the cluster (deterministic for a seed).
    const step = Math.max(1, Math.floor(members.length / 3));
    const picks = [0, 1, 2].map((j) => members[(j * step + (seed % step)) % Math.max(1, members.length)]).filter((x) => x !== undefined);
    return { cluster: c, size: members.length, topByFrequency: byFrequency, topByDistinctiveness: lift, examples: [...new Set(picks)].map((i) => context(acts, i)) };
  });
}

function clusterChart(points: Float64Array, labels: Int32Array, acts: TokenActivations, title: string): TopLevelSpec {
  const values = Array.from({ length: acts.n }, (_, i) => ({ x: points[2 * i], y: points[2 * i + 1], cluster: String(labels[i]), token: acts.tokens[i].text }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: values.slice(0, 5000) },
    width: 420,
    height: 420,
    mark: { type: 'circle', opacity: 0.6, size: 18 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'PC 1' },
      y: { field: 'y', type: 'quantitative', title: 'PC 2' },
      color: { field: 'cluster', type: 'nominal' },
      tooltip: [{ field: 'token' }, { field: 'cluster' }],
    },
  } as TopLevelSpec;
}

function addCorpusOptions(cmd: Command): Command {
  cmd
    .option('--data <file>', 'corpus: plain lines, TSV (first column) or JSONL ("text"); - reads stdin; large files stream')
    .option('--layer <l>', 'layer: hidden state index (0 = embeddings) for cluster, feed-forward layer for factors (default: the last)')
    .option('--max-tokens <n>', 'tokens to collect at most', '20000')
    .option('--seed <n>', 'seed for initialisation and sampling', '0')
    .option('--top <n>', 'tokens listed per cluster or factor', '8')
    .option('--json', 'print JSON')
    .option('--svg <file>', 'write a chart');
  return addModelOptions(cmd);
}

export function conceptsCommand(): Command {
  const concepts = new Command('concepts').summary('clusters and factors in hidden states, TCAV, the logit lens').description('What the hidden states encode: activation clusters, NMF factors of feed-forward activations, concept activation vectors (TCAV), and the logit lens.');
  concepts.enablePositionalOptions();

  const cluster = addCorpusOptions(new Command('cluster').description('k-means (k-means++ seeding) over token activations at a layer, with a concept table per cluster'))
    .option('--k <k>', 'clusters, or auto (best silhouette for k = 2…10)', 'auto');
  cluster.addHelpText('after', examples(['interp concepts cluster --data ../shared/data/sst2/glue-dev.tsv --layer 2 --k 8', 'head -500 corpus.txt | interp concepts cluster --data - --k auto --svg clusters.svg']));
  cluster.action(async (flags: CorpusFlags & { k: string }) => {
    if (!flags.data) throw usageError('--data is required (a corpus file, or - for stdin)');
    const seed = parseInteger('--seed', flags.seed, 0);
    const top = parseInteger('--top', flags.top, 1);
    const model = await withSpinner('loading model', () => openModel(flags));
    const layer = await defaultLayer(model, flags.layer, 'hidden');
    const acts = await withSpinner('collecting activations', () => collectActivations(model, corpusLines(flags.data!), layer, parseInteger('--max-tokens', flags.maxTokens, 2)));
    if (acts.n < 3) throw usageError('the corpus has fewer than 3 tokens to cluster');
    const points: Points = { data: acts.data, n: acts.n, dim: acts.dim };
    const auto = flags.k === 'auto' ? chooseK(points, 10, seed) : null;
    const k = auto ? auto.k : parseInteger('--k', flags.k, 1);
    const result = kMeans(points, k, seed);
    const rows = describeClusters(acts, result.labels, result.k, top, seed);
    if (flags.svg) await writeSvg(flags.svg, clusterChart(pca2(points, seed), result.labels, acts, `k-means (k = ${result.k}) at layer ${layer} · ${model.id}`));
    if (flags.json) {
      return writeStdout(toJson({ schema: 'interp/concepts-cluster@1', model: model.id, layer, k: result.k, silhouette: auto?.scores ?? null, tokens: acts.n, lines: acts.lines.length, inertia: result.inertia, iterations: result.iterations, clusters: rows, labels: Array.from(result.labels) }));
    }
    const t = new Table({ head: ['cluster', 'size', 'top tokens', 'most distinctive', 'examples'], style: { head: [], border: [] }, colWidths: [9, 7, 26, 30, 60], wordWrap: true });
    for (const r of rows) t.push([r.cluster, r.size, r.topByFrequency.map((x) => `${visible(x.token)} ${x.count}`).join(', '), r.topByDistinctiveness.map((x) => `${visible(x.token)} ×${x.lift.toFixed(1)}`).join(', '), r.examples.join('\n')]);
    await writeStdout(`k-means at layer ${layer} of ${model.id}: ${acts.n} tokens from ${acts.lines.length} lines, k = ${result.k}${auto ? ` (silhouette ${auto.scores.find((s) => s.k === result.k)?.silhouette.toFixed(3)})` : ''}\n${t.toString()}\n`);
  });

  const factors = addCorpusOptions(new Command('factors').description('NMF of the non-negative part of a layer\'s feed-forward activations (as ecco does): per-factor top tokens'))
    .option('--method <m>', 'factorisation: nmf', 'nmf')
    .option('--n <f>', 'number of factors', '8')
    .option('--text <text>', 'with --svg: a per-token factor strip for this input');
  factors.addHelpText('after', examples(['interp concepts factors --data corpus.txt --n 8 --layer 1', 'interp concepts factors --data corpus.txt --n 6 --text "the film was a delight" --svg strip.svg']));
  factors.action(async (flags: CorpusFlags & { method: string; n: string; text?: string }) => {
    if (flags.method !== 'nmf') throw usageError(`unknown --method '${flags.method}'; only nmf is available`);
    if (!flags.data) throw usageError('--data is required (a corpus file, or - for stdin)');
    const seed = parseInteger('--seed', flags.seed, 0);
    const top = parseInteger('--top', flags.top, 1);
    const n = parseInteger('--n', flags.n, 1);
    const model = await withSpinner('loading model', () => openModel(flags));
    const layer = await defaultLayer(model, flags.layer, 'mlp');
    const acts = await withSpinner('collecting activations', () => collectActivations(model, corpusLines(flags.data!), layer, parseInteger('--max-tokens', flags.maxTokens, 2), 'mlp'));
    const positive = acts.data.map((x) => Math.max(0, x));
    const { W, H, error } = nmf({ data: positive, n: acts.n, dim: acts.dim }, n, seed);
    const rows = Array.from({ length: n }, (_, f) => {
      const order = Array.from({ length: acts.n }, (_, i) => i).sort((a, b) => W[b * n + f] - W[a * n + f]);
      const seen = new Set<string>();
      const tokens: { token: string; weight: number }[] = [];
      for (const i of order) {
        const tok = acts.tokens[i].text.toLowerCase();
        if (seen.has(tok)) continue;
        seen.add(tok);
        tokens.push({ token: tok, weight: W[i * n + f] });
        if (tokens.length >= top) break;
      }
      return { factor: f, topTokens: tokens, example: context(acts, order[0]) };
    });
    let strip: { token: string; factors: number[] }[] | null = null;
    if (flags.text) {
      const single = await collectActivations(model, (async function* () { yield flags.text!; })(), layer, 10_000, 'mlp');
      strip = single.tokens.map((t, i) => {
        // Project onto the factors with the learned H (non-negative least squares by a few multiplicative steps).
        const x = single.data.subarray(i * single.dim, (i + 1) * single.dim).map((v) => Math.max(0, v));
        const w = new Float64Array(n).fill(0.1);
        for (let it = 0; it < 100; it++) for (let f = 0; f < n; f++) {
          let num = 0, den = 0;
          for (let d = 0; d < single.dim; d++) {
            let recon = 0;
            for (let g = 0; g < n; g++) recon += w[g] * H[g * single.dim + d];
            num += x[d] * H[f * single.dim + d];
            den += recon * H[f * single.dim + d];
          }
          w[f] *= num / (den + 1e-12);
        }
        return { token: t.text, factors: Array.from(w) };
      });
      if (flags.svg) {
        const values = strip.flatMap((s, i) => s.factors.map((v, f) => ({ token: `${i}: ${visible(s.token)}`, order: i, factor: `factor ${f}`, weight: v })));
        await writeSvg(flags.svg, {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          title: `NMF factors per token · layer ${layer} · ${model.id}`,
          data: { values },
          width: { step: 18 },
          height: { step: 16 },
          mark: 'rect',
          encoding: {
            x: { field: 'token', type: 'nominal', sort: { field: 'order' }, axis: { labelAngle: -60 }, title: null },
            y: { field: 'factor', type: 'nominal', title: null },
            color: { field: 'weight', type: 'quantitative', scale: { scheme: 'greens' } },
          },
        } as TopLevelSpec);
      }
    } else if (flags.svg) throw usageError('--svg for factors draws the strip of one input: add --text "…"');
    if (flags.json) return writeStdout(toJson({ schema: 'interp/concepts-factors@1', model: model.id, layer, factors: rows, reconstructionError: error, tokens: acts.n, strip }));
    const t = new Table({ head: ['factor', 'top tokens', 'strongest example'], style: { head: [], border: [] }, colWidths: [8, 50, 60], wordWrap: true });
    for (const r of rows) t.push([r.factor, r.topTokens.map((x) => `${visible(x.token)} ${formatNumber(x.weight)}`).join(', '), r.example]);
    await writeStdout(`NMF of the feed-forward activations of layer ${layer} of ${model.id}: ${acts.n} tokens, ${n} factors, reconstruction error ${formatNumber(error)}\n${t.toString()}\n`);
  });

  const lens = new Command('lens')
    .description('the logit lens: every layer\'s hidden state read out through the model\'s own final norm and unembedding')
    .argument('<text>', 'the input text')
    .option('--target <token>', 'track this token\'s rank and probability (default: the model\'s own prediction at each position)')
    .option('--top <k>', 'predictions per layer and position', '3')
    .option('--json', 'print JSON (schema interp/lens@1)')
    .option('--svg <file>', 'heatmap of the tracked token\'s probability across layers and positions');
  addModelOptions(lens);
  lens.addHelpText('after', examples(['interp concepts lens "Once upon a time, there was a little" --model ../shared/models/llama-stories260k-kv', 'interp concepts lens "Once upon a time" --model tiny-lm --target " there" --svg lens.svg']));
  lens.action(async (text: string, flags: ModelFlags & { target?: string; top: string; json?: boolean; svg?: string }) => {
    const model = await withSpinner('loading model', () => openModel(flags));
    const encoding = encodeText(model, text);
    let target: number | null = null;
    if (flags.target !== undefined) {
      if (model.task === 'classification') {
        target = model.labels!.findIndex((l) => l.toLowerCase() === flags.target!.toLowerCase());
        if (target < 0) throw usageError(`unknown label '${flags.target}'; this model's labels are ${model.labels!.join(', ')}`);
      } else {
        const ids = idsAfterPrompt(model, text, encoding.ids, flags.target);
        if (ids.length !== 1) throw usageError(`--target '${flags.target}' is ${ids.length} tokens; the lens tracks one token`);
        target = ids[0];
      }
    }
    const result = await withSpinner('reading every layer', () => logitLens(model, encoding, parseInteger('--top', flags.top, 1), target));
    if (flags.svg) await writeSvg(flags.svg, lensChart(result));
    if (flags.json) return writeStdout(toJson(result));
    const layers = result.layers;
    const t = new Table({ head: ['position', ...Array.from({ length: layers + 1 }, (_, l) => (l === 0 ? 'embed' : `layer ${l}`))], style: { head: [], border: [] } });
    for (const p of result.positions) t.push([`${p.index}: ${visible(p.token)}`, ...p.cells.map((c) => c.top.map((x) => `${visible(x.token)} ${x.probability.toFixed(2)}`).join('\n'))]);
    await writeStdout(`logit lens on ${model.id}: top-${flags.top} predictions of each layer's residual stream (the last column is the model's own output)\n${t.toString()}\n`);
  });

  const tcavCmd = new Command('tcav')
    .description('TCAV: does moving along a concept\'s direction in a layer raise the target score? (concept activation vectors, Kim et al. 2018)')
    .option('--concept <file>', 'texts that show the concept, one per line')
    .option('--random <file>', 'texts that do not (random counterexamples), one per line')
    .option('--inputs <file>', 'the inputs to test, one per line')
    .option('--layer <l>', 'hidden state index (0 = embeddings)', '1')
    .option('--target <label>', 'classifier label (default: the last label); causal LM: next token (default: the model\'s own prediction on the first input)')
    .option('--runs <n>', 'CAVs trained on different random splits (and as many random-vs-random CAVs for the null)', '10')
    .option('--seed <n>', 'seed for the splits and the permutation test', '0')
    .option('--json', 'print JSON (schema interp/tcav@1)');
  addModelOptions(tcavCmd);
  tcavCmd.addHelpText('after', examples(['interp concepts tcav --concept praise.txt --random random.txt --inputs reviews.txt --layer 2 --target POSITIVE']));
  tcavCmd.action(async (flags: ModelFlags & { concept?: string; random?: string; inputs?: string; layer: string; target?: string; runs: string; seed: string; json?: boolean }) => {
    const read = async (flag: string, file?: string) => {
      if (!file) throw usageError(`${flag} is required`);
      const lines: string[] = [];
      for await (const l of corpusLines(file)) lines.push(l);
      return lines;
    };
    const [concept, random, inputs] = [await read('--concept', flags.concept), await read('--random', flags.random), await read('--inputs', flags.inputs)];
    const model = await withSpinner('loading model', () => openModel(flags));
    const probe = encodeText(model, inputs[0], { truncate: true });
    const target = model.task === 'classification'
      ? await resolveTarget(model, probe.ids, { target: flags.target ?? model.labels![model.labels!.length - 1], score: 'logit' })
      : await resolveTarget(model, probe.ids, { target: flags.target }, inputs[0]);
    const r = await withSpinner('training CAVs and taking directional derivatives', () => tcav(model, concept, random, inputs, parseInteger('--layer', flags.layer, 0), target, { runs: parseInteger('--runs', flags.runs, 2), seed: parseInteger('--seed', flags.seed, 0) }));
    if (flags.json) return writeStdout(toJson(r));
    const t = new Table({ head: ['layer', 'target', 'CAV accuracy', 'TCAV score', 'random CAVs', 'p-value', 'significant'], style: { head: [], border: [] } });
    t.push([r.layer, r.target, r.cavAccuracy.toFixed(3), r.mean.toFixed(3), r.nullMean.toFixed(3), formatNumber(r.pValue), r.significant ? 'yes' : 'no']);
    await writeStdout(`TCAV on ${model.id}: ${concept.length} concept, ${random.length} random, ${inputs.length} inputs, ${r.runs} runs\n${t.toString()}\n`);
  });

  concepts.addCommand(cluster);
  concepts.addCommand(factors);
  concepts.addCommand(lens);
  concepts.addCommand(tcavCmd);
  return concepts;
}

function lensChart(r: LensResult): TopLevelSpec {
  const values = r.positions.flatMap((p) => p.cells.map((c) => ({ position: `${p.index}: ${visible(p.token)}`, order: p.index, layer: c.layer, probability: c.tracked.probability, token: c.tracked.token, rank: c.tracked.rank })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'logit lens: probability of the tracked token by layer', subtitle: r.model },
    data: { values },
    width: { step: 22 },
    height: { step: 22 },
    mark: 'rect',
    encoding: {
      x: { field: 'position', type: 'nominal', sort: { field: 'order' }, axis: { labelAngle: -60 }, title: null },
      y: { field: 'layer', type: 'ordinal', sort: 'descending', title: 'layer (0 = embeddings)' },
      color: { field: 'probability', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1] } },
      tooltip: [{ field: 'position' }, { field: 'layer' }, { field: 'token' }, { field: 'rank' }, { field: 'probability', format: '.3f' }],
    },
  } as TopLevelSpec;
}
