import { Command } from 'commander';
import { clusterConcepts, factorConcepts } from '../src/concepts/report.js';
import { usageError } from '../src/errors.js';
import { clusterChart, clusterTable, factorsChart, factorsTable } from '../src/render/concepts.js';
import { examples, parseInteger } from './common.js';
import { jsonDocument, jsonOperation, runPlanned, type Operation } from './operation.js';
import { emit } from './output.js';
import { tcavCommand } from './concepts-probes.js';
import { lensCommand } from './concepts-lens.js';
import { surrogateCommand } from './concepts-surrogate.js';
import { topCommand } from './concepts-top.js';
import { addCorpusOptions, corpusRequest, type CorpusFlags } from './groups.js';

export function clusterCommand(): Command {
  const cluster = addCorpusOptions(
    new Command('cluster').description(
      'k-means (k-means++ seeding) over token activations at a layer, with a concept table per cluster',
    ),
  )
    .option('--k <k>', 'clusters, or auto (best silhouette for k = 2…10)', 'auto')
    .addHelpText(
      'after',
      examples([
        'interp concepts cluster --data ../shared/data/sst2/glue-dev.tsv --layer 2 --k 8',
        'head -500 corpus.txt | interp concepts cluster --data - --k auto --svg clusters.svg',
      ]),
    );
  return cluster.action(async (flags: ClusterFlags) => {
    const { report, projection } = await runPlanned(
      clusterOperation,
      undefined,
      flags,
      'collecting activations and clustering',
    );
    await emit(flags, report, { table: clusterTable, chart: (r) => clusterChart(r, projection) });
  });
}

type ClusterFlags = CorpusFlags & { k: string };

/** Its result carries each token's projection for the chart; what it prints, serves and returns is the report. */
export const clusterOperation: Operation<ClusterFlags, Awaited<ReturnType<typeof clusterConcepts>>> = {
  name: 'concepts cluster',
  command: clusterCommand,
  contentType: 'application/json',
  document: (r) => jsonDocument(r.report),
  plan: (_text, flags) => {
    const k = flags.k === 'auto' ? ('auto' as const) : parseInteger('--k', flags.k, 1, 1_000);
    const request = { ...corpusRequest(flags), k };
    return (model) => clusterConcepts(model, request);
  },
};

export function factorsCommand(): Command {
  const factors = addCorpusOptions(
    new Command('factors').description(
      "NMF of the non-negative part of a layer's feed-forward activations (as ecco does): per-factor top tokens",
    ),
  )
    .option('--method <m>', 'factorisation: nmf', 'nmf')
    .option('--n <f>', 'number of factors', '8')
    .option('--text <text>', 'with --svg: a per-token factor strip for this input')
    .addHelpText(
      'after',
      examples([
        'interp concepts factors --data corpus.txt --n 8 --layer 1',
        'interp concepts factors --data corpus.txt --n 6 --text "the film was a delight" --svg strip.svg',
      ]),
    );
  return factors.action(async (flags: FactorsFlags) => {
    if (flags.svg && flags.text === undefined)
      throw usageError('--svg for factors draws the strip of one input: add --text "…"');
    const report = await runPlanned(factorsOperation, undefined, flags, 'collecting activations and factorising');
    await emit(flags, report, {
      table: factorsTable,
      chart: (r) => (r.strip ? factorsChart({ ...r, strip: r.strip }) : undefined),
    });
  });
}

type FactorsFlags = CorpusFlags & { method: string; n: string; text?: string };

export const factorsOperation = jsonOperation<FactorsFlags, Awaited<ReturnType<typeof factorConcepts>>>({
  name: 'concepts factors',
  command: factorsCommand,
  plan: (_text, flags) => {
    if (flags.method !== 'nmf') throw usageError(`unknown --method '${flags.method}'; only nmf is available`);
    const request = { ...corpusRequest(flags), n: parseInteger('--n', flags.n, 1, 1_000), text: flags.text };
    return (model) => factorConcepts(model, request);
  },
});

export function conceptsCommand(): Command {
  const concepts = new Command('concepts')
    .summary('clusters and factors in hidden states, TCAV, the logit lens')
    .description(
      'What the hidden states encode: activation clusters, NMF factors of feed-forward activations, concept activation vectors (TCAV), and the logit lens.',
    );
  concepts.enablePositionalOptions();
  return concepts
    .addCommand(clusterCommand())
    .addCommand(factorsCommand())
    .addCommand(lensCommand())
    .addCommand(tcavCommand())
    .addCommand(topCommand())
    .addCommand(surrogateCommand());
}
