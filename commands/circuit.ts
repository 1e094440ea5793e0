import { Command, Option } from 'commander';
import {
  ABLATIONS,
  CIRCUIT_METHODS,
  CIRCUIT_SCHEMA,
  circuitReport,
  DEFAULT_STEPS,
  type CircuitReport,
} from '../src/circuit/circuit.js';
import { thresholdError, usageFault } from '../src/errors.js';
import { circuitDatasetReport, circuitInput, MAX_PAIRS } from '../src/circuit/dataset.js';
import { circuitChart, circuitTable } from '../src/render/circuit.js';
import { addModelOptions, examples, openModel, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { emit, summarised, withSpinner, withSummaryText, type OutputFlags } from './output.js';
import { summarizeCircuit } from '../src/summary/circuit.js';
import type { Summary } from '../src/summary/claims.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { cliEnv, jsonOperation } from './operation.js';

interface CircuitFlags extends ModelFlags, OutputFlags, Partial<Record<'summary' | 'edges' | 'graddrop', boolean>> {
  corrupted?: string;
  answer?: string;
  wrong?: string;
  method: (typeof CIRCUIT_METHODS)[number];
  ablation: (typeof ABLATIONS)[number];
  k: string;
  exactBudget: string;
  steps: string;
  minFaithfulness?: string;
  data?: string;
  threshold?: string;
  edgeBudget: string;
}

export function circuitCommand(): Command {
  const cmd = new Command('circuit')
    .summary('the heads and feed-forward blocks that carry a behaviour, and how much of it they keep alone')
    .description(
      'Score every attention head and feed-forward block by the effect of patching its corrupted activation into the clean run on the logit difference answer − wrong: attribution patching (one clean forward and backward pass, one corrupted forward pass) or exact patching of each. Then keep the top components, ablate all others, and measure the logit difference kept: the faithfulness curve over circuit sizes, its area (CPR) and its distance from 1 (CMD).',
    )
    .argument('[clean]', 'the prompt where the behaviour holds (or --data)')
    .option('--corrupted <text>', 'a prompt of the same token length where it fails (required)')
    .option('--answer <token>', 'the clean prompt’s next token (one token, e.g. " Lily"; required)')
    .option('--wrong <token>', 'the token the corrupted prompt leads to instead (required)')
    .addOption(
      new Option('--method <m>', 'atp, atp* (AtP*), ig, patch (exact), dla (direct logits)')
        .choices(CIRCUIT_METHODS)
        .default('atp'),
    )
    .addOption(
      localOption('--data <file>', `JSONL of {clean, corrupted, answer, wrong} pairs (≤ ${MAX_PAIRS})`, 'input'),
    )
    .addOption(new Option('--ablation <a>', 'what ablated components output').choices(ABLATIONS).default('corrupted'))
    .option('--steps <n>', 'ig: inputs on the path from the corrupted prompt to the clean one', `${DEFAULT_STEPS}`)
    .option('--k <n>', 'components (or with --edges, edges) in the circuit', '6')
    .option('--edges', 'also score the edges sender → receiver q/k/v, feed-forward input, logits (EAP)')
    .option('--graddrop', 'atp*: rank by GradDrop, mean |AtP| with each layer cut from the backward pass')
    .option('--threshold <x>', 'with --edges: the circuit is every edge with |score| ≥ x instead of the top k')
    .option('--exact-budget <n>', 'also patch each component exactly, to check, up to this many', '512')
    .option('--edge-budget <n>', 'atp* and --edges: the most edges scored (a usage error past it)', '50000')
    .addOption(
      localOption(
        '--min-faithfulness <x>',
        'exit 3 when the top-k circuit keeps less of the logit difference (0–1)',
        'process',
      ),
    );
  addOutputOptions(cmd, {
    json: `print JSON (schema ${CIRCUIT_SCHEMA})`,
    svg: 'write the faithfulness curve',
    summary: true,
  });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp circuit "When Lily and Tim went to the park, Tim gave a ball to" --corrupted "When Lily and Tim went to the park, Lily gave a ball to" --answer " Lily" --wrong " Tim" --model ../shared/models/llama-stories260k-kv',
      'interp circuit "a b c d . a b" --corrupted "e f g h . a b" --answer " c" --wrong " a" --method patch --min-faithfulness 0.9',
    ]),
  );
  return cmd.action(async (clean: string, flags: CircuitFlags) => {
    const work = circuitOperation.plan(clean, flags, cliEnv(flags));
    const gate =
      flags.minFaithfulness === undefined ? undefined : parseNumber('--min-faithfulness', flags.minFaithfulness, 0, 1);
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner('scoring components', () => work(model));
    await emit(flags, report, { table: withSummaryText(circuitTable), chart: circuitChart });
    const [kept, size] = report.edges
      ? [report.edges.faithfulness, `${report.edges.circuit.length}-edge`]
      : [report.faithfulness.atK, `top-${report.circuit.length}`];
    if (gate !== undefined && !(kept >= gate))
      throw thresholdError(`the ${size} circuit keeps ${kept.toFixed(4)} of the logit difference < ${gate}`);
  });
}

export const circuitOperation = jsonOperation<CircuitFlags, CircuitReport & { summary?: Summary }>({
  name: 'circuit',
  command: circuitCommand,
  plan: (clean, flags) => {
    const options = {
      ...{ method: flags.method, ablation: flags.ablation, k: parseInteger('--k', flags.k, 1, 10_000) },
      ...{ exactBudget: parseInteger('--exact-budget', flags.exactBudget, 0, 100_000), gradDrop: flags.graddrop },
      edgeBudget: parseInteger('--edge-budget', flags.edgeBudget, 1, 1_000_000),
      ...{ steps: parseInteger('--steps', flags.steps, 1, 512), edges: flags.edges === true },
      threshold: flags.threshold === undefined ? undefined : parseNumber('--threshold', flags.threshold, 0, 1e9),
    };
    const input = circuitInput(clean, flags);
    if (options.threshold !== undefined && !options.edges)
      throw usageFault('threshold', '{param} selects edges: it needs --edges');
    if (options.edges && (options.method === 'patch' || options.method === 'dla'))
      throw usageFault('method', `{param} ${options.method} scores components only; --edges needs atp, atp* or ig`);
    if (options.edges && Array.isArray(input)) throw usageFault('edges', '{param} scores one prompt pair, not --data');
    return async (model) => {
      const report = Array.isArray(input)
        ? await circuitDatasetReport(model, input, options)
        : await circuitReport(model, { ...input, ...options });
      return summarised(flags.summary, report, summarizeCircuit);
    };
  },
});
