import { Command } from 'commander';
import { thresholdError } from '../src/errors.js';
import { TEST_REPORT_SCHEMA, testSuite, type TestOptions } from '../src/hypothesis/report.js';
import { DEFAULT_METHOD, readSuite } from '../src/hypothesis/suite.js';
import { methodNamed } from '../src/methods/config.js';
import { testJunit, testTable } from '../src/render/test.js';
import { summarizeTest } from '../src/summary/test.js';
import { writeFileAtomic } from '../src/util/files.js';
import { addModelOptions, examples, openModel, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { emit, summarised, withSpinner, withSummaryText, type OutputFlags } from './output.js';
import { addOutputOptions, localOption } from './outputOptions.js';

interface TestFlags extends ModelFlags, OutputFlags {
  junit?: string;
  summary?: boolean;
  maxFailureRate?: string;
  permutations: string;
  show: string;
  method: string;
  seed: string;
}

export function testCommand(): Command {
  const cmd = new Command('test')
    .summary('run a suite of behavioural tests and hypotheses about reasons; exit 3 when a test fails its gate')
    .description(
      'Run every test of a YAML or JSON suite (schemas/test-suite.schema.json): minimum functionality (label, top-token), invariance and directional expectations under seeded perturbations (CheckList, Ribeiro et al. 2020), and hypotheses about reasons (attribution share, rank, counterfactual flips). Each test reports its failure rate with a 95 % Wilson interval and its failing examples, worst first, explained beside their unperturbed originals; attribution shares are tested against random words of the same count (randomisation test, Holm across the suite).',
    )
    .argument('<suite>', 'the suite file (YAML or JSON)')
    .option('--max-failure-rate <x>', 'gate of every test that sets no max_failure_rate (0 to 1); exit 3 above it')
    .option('--permutations <n>', 'draws of each randomisation test (100 to 100000)', '1000')
    .option('--show <n>', 'failing examples explained per test, worst first (0 to 100)', '3')
    .option('--method <name>', 'attribution method of those explanations', DEFAULT_METHOD)
    .option('--seed <n>', 'seed of the perturbations, the randomisation tests and sampling methods', '0')
    .addOption(localOption('--junit <file>', 'also write JUnit XML, one testcase per test'));
  addOutputOptions(cmd, { json: `print JSON (schema ${TEST_REPORT_SCHEMA})`, summary: true });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp test examples/sentiment.tests.yaml --model ../shared/models/distilbert-sst2-mini',
      'interp test sentiment.tests.yaml --max-failure-rate 0.05 --junit test-results.xml',
      'interp test sentiment.tests.yaml --json --seed 1 > report.json',
      'interp test sentiment.tests.yaml --summary',
    ]),
  );
  return cmd.action(async (file: string, flags: TestFlags) => {
    const options = optionsOf(flags);
    const suite = readSuite(file);
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner(`running ${suite.tests.length} tests`, async () =>
      summarised(flags.summary, await testSuite(model, suite, options), (r) => summarizeTest(model, suite, r)),
    );
    if (flags.junit) writeFileAtomic(flags.junit, testJunit(report));
    await emit(flags, report, { table: withSummaryText(testTable) });
    const failed = report.tests.filter((t) => t.status === 'fail');
    if (failed.length)
      throw thresholdError(
        `${failed.length} of ${report.tests.length} tests failed: ${failed.map((t) => t.name).join(', ')}`,
      );
  });
}

function optionsOf(flags: TestFlags): TestOptions {
  methodNamed(flags.method);
  return {
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    permutations: parseInteger('--permutations', flags.permutations, 100, 100_000),
    maxFailureRate:
      flags.maxFailureRate === undefined ? null : parseNumber('--max-failure-rate', flags.maxFailureRate, 0, 1),
    explain: parseInteger('--show', flags.show, 0, 100),
    method: flags.method,
  };
}
