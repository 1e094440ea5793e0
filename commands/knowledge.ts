import path from 'node:path';
import { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { readRelations } from '../src/knowledge/relations.js';
import { KNOWLEDGE_SCHEMA, knowledgeReport, type KnowledgeReport } from '../src/knowledge/report.js';
import { GRAPH_FORMATS, writeGraph, type GraphFormat } from '../src/render/graph.js';
import { knowledgeChart, knowledgeGraph, knowledgeTable } from '../src/render/knowledge.js';
import { writeFileAtomic } from '../src/util/files.js';
import { addModelOptions, examples, optionalInteger, parseInteger, parseNumber } from './common.js';
import { runPlanned, jsonOperation } from './operation.js';
import type { ModelFlags } from './common.js';
import { emit, writeStdout, type OutputFlags } from './output.js';
import { addOutputOptions, localOption } from './outputOptions.js';

interface KnowledgeFlags extends ModelFlags, OutputFlags {
  relations?: string;
  expand?: string;
  minMargin: string;
  maxNodes: string;
  locate?: boolean;
  noise: string;
  samples: string;
  seed: string;
  format?: string;
  out?: string;
}

export function knowledgeCommand(): Command {
  const cmd = new Command('knowledge')
    .summary('probe the facts a language model holds and build their graph (likelihood ranking, causal tracing)')
    .description(
      "Rank each relation instance's candidate objects by the likelihood of the whole statement (BEAR, Wiland et al. 2024; pseudo-log-likelihood for masked LMs), score against gold with bootstrap intervals, grow a graph from seed entities (LMCRAWL, BertNet), and with --locate trace where each fact is read out (ROME).",
    )
    .addOption(
      localOption(
        '--relations <file>',
        "a JSON or YAML relation file, or 'builtin' (family, colour, place, profession)",
        'input',
      ),
    )
    .option(
      '--expand <n>',
      'rounds of growth from the seeds: preferred objects become the next round’s subjects (0 to 10)',
    )
    .option('--min-margin <x>', 'an instance becomes an edge when its log-likelihood margin reaches this', '0')
    .option('--max-nodes <n>', 'stop adding entities at this many (1 to 10000)', '200')
    .option('--locate', 'causal tracing of each edge: the layer and position with the largest indirect effect')
    .option('--noise <x>', '--locate: noise on the subject, in standard deviations of the embeddings', '3')
    .option('--samples <n>', '--locate: noise draws averaged over', '3')
    .option('--seed <n>', 'seed for the bootstrap and the tracing noise', '0')
    .addOption(
      localOption('--format <format>', `print the graph instead of the table: ${GRAPH_FORMATS.join(' or ')}`, 'output'),
    )
    .addOption(
      localOption('--out <file>', 'write the graph here (format from --format or the extension .graphml/.dot)'),
    );
  addOutputOptions(cmd, { json: `print JSON (schema ${KNOWLEDGE_SCHEMA})`, svg: 'draw the graph' });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp knowledge --relations builtin --model ../shared/models/llama-stories260k-kv',
      'interp knowledge --relations facts.yaml --expand 2 --min-margin 1 --format graphml > facts.graphml',
      'interp knowledge --relations builtin --locate --json --svg graph.svg',
    ]),
  );
  return cmd.action(async (flags: KnowledgeFlags) => {
    const format = graphFormat(flags);
    const report = await runPlanned(knowledgeOperation, undefined, flags, 'probing');
    const graph = format && writeGraph(knowledgeGraph(report), format);
    if (graph && flags.out) writeFileAtomic(flags.out, graph);
    if (graph && !flags.out) await writeStdout(graph);
    else await emit(flags, report, { table: knowledgeTable, chart: knowledgeChart });
  });
}

export const knowledgeOperation = jsonOperation<KnowledgeFlags, KnowledgeReport>({
  name: 'knowledge',
  command: knowledgeCommand,
  plan: (_text, flags) => {
    const request = requestOf(flags);
    if (!flags.relations) throw usageError("--relations is required (a JSON or YAML file, or 'builtin')");
    const set = readRelations(flags.relations);
    return (model) => knowledgeReport(model, set, request);
  },
});

function requestOf(flags: KnowledgeFlags) {
  const seed = parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1);
  const locate = flags.locate
    ? { noise: parseNumber('--noise', flags.noise, 0, 100), samples: parseInteger('--samples', flags.samples, 1, 100) }
    : null;
  return {
    expand: optionalInteger('--expand', flags.expand, 0, 10) ?? null,
    minMargin: parseNumber('--min-margin', flags.minMargin, 0, 1_000),
    maxNodes: parseInteger('--max-nodes', flags.maxNodes, 1, 10_000),
    ...{ locate: locate && { ...locate, seed }, seed },
  };
}

/** --format, or the extension of --out; printing the graph leaves no room for --json on stdout. */
function graphFormat(flags: KnowledgeFlags): GraphFormat | undefined {
  const ext = flags.out ? path.extname(flags.out).toLowerCase().slice(1) : '';
  const format = flags.format ?? (ext === 'gv' ? 'dot' : ext);
  if (!flags.format && !flags.out) return undefined;
  if (!(GRAPH_FORMATS as readonly string[]).includes(format))
    throw usageError(
      flags.format
        ? `unknown --format '${flags.format}'; choose ${GRAPH_FORMATS.join(' or ')}`
        : `--out ${flags.out}: name a .graphml or .dot file, or give --format`,
    );
  if (!flags.out && flags.json)
    throw usageError('--format prints the graph on stdout; add --out FILE to have --json too');
  return format as GraphFormat;
}
