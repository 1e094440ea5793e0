import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../commands/cli.js';
import { allMethodOptions, methodNamed } from '../../src/methods/config.js';
import { tempDir } from '../helpers.js';
import { runInProcess, type Outcome } from '../support/inProcess.js';

/**
 * The bad-input corpus: every numeric flag of every subcommand at negative, not-a-number, huge and wrongly
 * typed values, and the odd files and texts a new user tries. Each must end with its documented exit code,
 * one line on stderr without a stack trace, and stdout either empty or one valid JSON document. The CLI
 * runs in-process (the same `main` the bin calls), so that hundreds of cases take seconds.
 */

const run = runInProcess;

function expectClean(r: Outcome, code: number, label: string): void {
  expect(r.code, `${label}: ${r.stderr}`).toBe(code);
  if (code !== 0) {
    expect(r.stderr.trimEnd().split('\n'), `${label}: one line on stderr: ${r.stderr}`).toHaveLength(1);
    expect(r.stderr, `${label}: a message, not a stack`).toMatch(/^interp: (error: )?\S/);
  }
  expect(r.stderr, `${label}: no stack trace`).not.toMatch(/\n\s+at |node:internal|TypeError|ReferenceError/);
  if (r.stdout.trim()) expect(() => JSON.parse(r.stdout), `${label}: stdout is one JSON document`).not.toThrow();
}

let dir: string;
const file = (name: string, text: string | Buffer) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const files: Record<string, string> = {};

beforeAll(() => {
  dir = tempDir('interp-bad-input-');
  files.tsv = file('dev.tsv', 'a good film\t1\na dull film\t0\n');
  files.pairs = file('pairs.jsonl', '{"more": "he is strong", "less": "she is strong", "type": "gender"}\n');
  files.weat = file(
    'weat.jsonl',
    JSON.stringify({
      targ1: { category: 'a', examples: ['rose', 'lily', 'daisy'] },
      targ2: { category: 'b', examples: ['ant', 'wasp', 'flea'] },
      attr1: { category: 'c', examples: ['good', 'nice', 'happy'] },
      attr2: { category: 'd', examples: ['bad', 'awful', 'sad'] },
    }) + '\n',
  );
  files.corpus = file('corpus.txt', 'the film was good\nthe plot was dull and slow\na fine cast\n');
  files.concept = file('concept.txt', 'great\nwonderful\nsuperb\nlovely\n');
  files.random = file('random.txt', 'table\nchair\nwindow\ndoor\nroad\nstone\npaper\nwall\n');
  files.empty = file('empty.txt', '');
  files.swaps = file('swaps.json', '{"good": ["bad"]}');
  files.suite = file('suite.yaml', 'tests:\n  - {name: positive, texts: [a good film], label: POSITIVE}\n');
  files.binary = file('binary.tsv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff, 0xfe, 0]));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Arguments that take each subcommand past its own required inputs, so that the flag under test is what fails. */
function baseArgs(command: string[], method?: string): string[] {
  switch (command.join(' ')) {
    case 'explain':
      return ['explain', 'a good film', ...(method ? ['--method', method] : [])];
    case 'attention':
      return ['attention', 'the cat sat'];
    case 'explore':
      return ['explore', 'a good film', '--variant', 'a bad film'];
    case 'counterfactual':
      return [
        'counterfactual',
        'a good film',
        '--proposer',
        `list:${files.swaps}`,
        ...(method ? ['--method', method] : []),
      ];
    case 'serve':
      return ['serve'];
    case 'concepts surrogate':
      return ['concepts', 'surrogate', '--data', files.tsv, '--explain', '0'];
    case 'concepts top':
      return ['concepts', 'top', '--data', files.corpus, '--neuron', '0'];
    case 'patch':
      return ['patch', 'a good film', '--corrupted', 'a bad film'];
    case 'chain':
      return ['chain', 'a b c', '--model', 'tiny-lm', '--generate', '2'];
    case 'report':
      return [
        'report',
        'a good film',
        '--counterfactual-budget',
        '0',
        '--methods',
        method ?? 'occlusion',
        '--out',
        path.join(dir, 'report.html'),
      ];
    case 'fidelity':
      return ['fidelity', '--data', files.tsv, '--methods', method ?? 'occlusion', '--robustness'];
    case 'bench':
      return ['bench', '--lengths', '8', '--runs', '1', '--warmup', '0', '--methods', method ?? 'occlusion'];
    case 'bias swap':
      return [
        'bias',
        'swap',
        '--template',
        'The {group} was good.',
        '--explain',
        '--explain-method',
        method ?? 'occlusion',
      ];
    case 'bias pairs':
      return ['bias', 'pairs', '--model', 'tiny-lm', '--data', files.pairs];
    case 'bias weat':
      return ['bias', 'weat', '--data', files.weat];
    case 'concepts cluster':
    case 'concepts factors':
      return [...command, '--data', files.corpus];
    case 'knowledge':
      return ['knowledge', '--relations', 'builtin', '--model', 'tiny-lm', '--locate'];
    case 'concepts lens':
      return ['concepts', 'lens', 'the film was', '--model', 'tiny-lm'];
    case 'concepts tcav':
      return [...command, '--concept', files.concept, '--random', files.random, '--inputs', files.corpus];
    case 'circuit':
      return ['circuit', 'a b c', '--corrupted', 'a b d', '--answer', ' c', '--wrong', ' d', '--model', 'tiny-lm'];
    case 'steer':
      return ['steer', 'a b', '--model', 'tiny-lm', '--site', 'embed', '--direction', files.swaps];
    case 'deploy indexed-job':
    case 'deploy batch':
      return [...command, '--data', '/mnt/interp/data/dev.tsv'];
    case 'test':
      return ['test', files.suite];
    case 'deploy serve':
      return ['deploy', 'serve'];
    default:
      throw new Error(`no base arguments for ${command.join(' ')}`);
  }
}

/** Every option that takes a number, with the subcommand it belongs to. */
async function numericFlags(): Promise<{ command: string[]; flag: string }[]> {
  const out: { command: string[]; flag: string }[] = [];
  const walk = (cmd: Command, at: string[]) => {
    for (const o of cmd.options) if (/<(n|x|k|l|h|pct|i\/n)>$/.test(o.flags)) out.push({ command: at, flag: o.long! });
    for (const c of cmd.commands) walk(c, [...at, c.name()]);
  };
  walk(await buildProgram(), []);
  return out;
}

const BAD_NUMBERS = ['-1', 'NaN', '1e99', '99999999999', 'abc'];

const NUMERIC_FLAGS = await numericFlags();

describe('bad-input corpus: every numeric flag of every subcommand', () => {
  const { params } = allMethodOptions();
  const cases = NUMERIC_FLAGS.flatMap(({ command, flag }) => {
    const param = flag.replace(/^--(explain-)?/, '');
    const owner = params.get(param)?.methods.find((m) => methodNamed(m).family !== 'control');
    // bias swap explains with perturbation methods only.
    const method = command[1] === 'swap' && owner && methodNamed(owner).family !== 'perturbation' ? undefined : owner;
    return BAD_NUMBERS.map((value) => ({
      label: `${command.join(' ')} ${flag} ${value}`,
      command,
      flag,
      value,
      method,
    }));
  });

  it('holds at least 140 cases', () => expect(cases.length).toBeGreaterThanOrEqual(140));

  it.each(cases.map((c) => [c.label, c] as const))('%s', async (label, c) => {
    const r = await run([...baseArgs(c.command, c.method), c.flag, c.value]);
    expectClean(r, 2, label);
  });
});

describe('bad-input corpus: files, texts and selections', () => {
  const cases: [string, () => string[], number][] = [
    ['empty text', () => ['explain', '   '], 2],
    ['text of control characters only', () => ['explain', '\u0000\u0001'], 2],
    ['unknown model folder', () => ['explain', 'good', '--model', path.join(dir, 'nope')], 2],
    ['unknown method', () => ['explain', 'good', '--method', 'magic'], 2],
    ['empty --compare', () => ['explain', 'good', '--compare', ''], 2],
    ['empty --methods', () => ['fidelity', '--data', files.tsv, '--methods', ''], 2],
    [
      '--generate beyond the model length',
      () => ['explain', 'the film', '--model', 'tiny-lm', '--generate', '1000'],
      2,
    ],
    ['--generate on a classifier', () => ['explain', 'the film', '--generate', '2'], 2],
    ['a flag of another method', () => ['explain', 'good', '--method', 'occlusion', '--steps', '8'], 2],
    ['lime --kernel-width 0', () => ['explain', 'good', '--method', 'lime', '--kernel-width', '0'], 2],
    ['fidelity without --data', () => ['fidelity'], 2],
    ['fidelity on a missing file', () => ['fidelity', '--data', path.join(dir, 'missing.tsv')], 2],
    ['fidelity on a binary file', () => ['fidelity', '--data', files.binary], 2],
    ['fidelity on an empty file', () => ['fidelity', '--data', file('empty.tsv', '')], 2],
    ['TSV row without a sentence', () => ['fidelity', '--data', file('nosentence.tsv', 'good\t1\n\t0\n')], 2],
    ['JSONL that is not JSON', () => ['fidelity', '--data', file('broken.jsonl', '{"text": "a"}\n{oops\n')], 2],
    ['JSONL rows that are arrays', () => ['fidelity', '--data', file('arrays.jsonl', '["a", 1]\n')], 2],
    ['odd rows under --strict', () => ['fidelity', '--data', file('odd.tsv', 'a\tb\tc\n'), '--strict'], 2],
    ['unknown labels under --strict', () => ['fidelity', '--data', file('lab.tsv', 'good\tbanana\n'), '--strict'], 2],
    ['--shard out of range', () => ['fidelity', '--data', files.tsv, '--shard', '3/2'], 2],
    ['an attack flag without --robustness', () => ['fidelity', '--data', files.tsv, '--robustness-k', '2'], 2],
    ['a sampling flag without --sample', () => ['explore', 'a b', '--model', 'tiny-lm', '--top-p', '0.5'], 2],
    ['--shard auto with no array-job engine', () => ['fidelity', '--data', files.tsv, '--shard', 'auto'], 2],
    [
      '--out under a file',
      () => ['fidelity', '--data', files.tsv, '--methods', 'random', '--out', path.join(files.tsv, 'x.jsonl')],
      2,
    ],
    ['--min with an unknown metric', () => ['fidelity', '--data', files.tsv, '--min', 'beauty=1'], 2],
    ['--min without a value', () => ['fidelity', '--data', files.tsv, '--min', 'comprehensiveness'], 2],
    ['summarize a missing file', () => ['fidelity', 'summarize', path.join(dir, 'none.jsonl')], 2],
    ['summarize a file with no records', () => ['fidelity', 'summarize', files.corpus], 2],
    [
      'tcav with empty inputs',
      () => ['concepts', 'tcav', '--concept', files.concept, '--random', files.random, '--inputs', files.empty],
      2,
    ],
    ['tcav without --concept', () => ['concepts', 'tcav', '--random', files.random, '--inputs', files.corpus], 2],
    ['cluster with more clusters than tokens', () => ['concepts', 'cluster', '--data', files.corpus, '--k', '1000'], 2],
    ['factors with an unknown method', () => ['concepts', 'factors', '--data', files.corpus, '--method', 'pca'], 2],
    ['pairs from a .txt file', () => ['bias', 'pairs', '--model', 'tiny-lm', '--data', files.corpus], 2],
    ['swap without a {group} slot', () => ['bias', 'swap', '--template', 'no slot here'], 2],
    ['swap with unknown groups', () => ['bias', 'swap', '--template', 'The {group}.', '--groups', 'planets'], 2],
    ['weat on an empty file', () => ['bias', 'weat', '--data', files.empty], 2],
    [
      'bench at a length no model takes',
      () => ['bench', '--lengths', '100000', '--methods', 'occlusion', '--runs', '1'],
      2,
    ],
    ['bench with an empty method list', () => ['bench', '--methods', ''], 2],
    ['attention --head without --layer', () => ['attention', 'the cat', '--head', '0'], 2],
    ['attention --layer beyond the model', () => ['attention', 'the cat', '--layer', '99'], 2],
    ['attention with an unknown --format', () => ['attention', 'the cat', '--format', 'xml'], 2],
    ['attention --alignments missing', () => ['attention', 'the cat', '--alignments', path.join(dir, 'nope.txt')], 2],
    ['attention --alignments empty', () => ['attention', 'the cat', '--alignments', files.empty], 2],
    ['attention --alignments binary', () => ['attention', 'the cat', '--alignments', files.binary], 2],
    ['attention --alignments not Pharaoh', () => ['attention', 'the cat', '--alignments', files.corpus], 2],
    ['attention --part unknown', () => ['attention', 'the cat', '--part', 'both'], 2],
    ['an unknown subcommand', () => ['explian', 'good'], 2],
    ['explore without variants', () => ['explore', 'good'], 2],
    ['explore from a missing variants file', () => ['explore', 'good', '--variants', '/nonexistent.txt'], 2],
    ['counterfactual with an unknown proposer', () => ['counterfactual', 'good', '--proposer', 'thesaurus'], 2],
    ['counterfactual from a missing list', () => ['counterfactual', 'good', '--proposer', 'list:/nonexistent.json'], 2],
    ['counterfactual to an unknown label', () => ['counterfactual', 'good', '--to', 'MAYBE'], 2],
    ['counterfactual --delta on a classifier', () => ['counterfactual', 'good', '--delta', '1'], 2],
    ['counterfactual with text over the model maximum', () => ['counterfactual', 'good '.repeat(400)], 2],
    ['report without a text or --data', () => ['report'], 2],
    ['serve with a short token', () => ['serve', '--token', 'short'], 2],
    ['top with a neuron out of range', () => ['concepts', 'top', '--data', files.corpus, '--neuron', '100000'], 2],
    ['top without a unit', () => ['concepts', 'top', '--data', files.corpus], 2],
    [
      'top with a direction of the wrong width',
      () => ['concepts', 'top', '--data', files.corpus, '--direction', files.swaps],
      2,
    ],
    ['patch prompts of different lengths', () => ['patch', 'a good film', '--corrupted', 'a film'], 2],
    ['patch words not in the text', () => ['patch', 'a good film', '--corrupt', 'plot'], 2],
    ['a surrogate of a causal LM', () => ['concepts', 'surrogate', '--data', files.tsv, '--model', 'tiny-lm'], 2],
    ['a surrogate from too few examples', () => ['concepts', 'surrogate', '--data', files.tsv], 2],
    ['serve from a missing model folder', () => ['serve', '--allow-local-models', '/nonexistent'], 2],
    ['report with a text and --data', () => ['report', 'good', '--data', files.tsv], 2],
    ['report --generate on a classifier', () => ['report', 'good', '--generate', '3'], 2],
    ['report --attention on a classifier', () => ['report', 'good', '--attention', 'cross'], 2],
    ['report with an unknown method', () => ['report', 'good', '--methods', 'occlusion,telepathy'], 2],
    [
      'report into a folder that is a file',
      () => ['report', 'good', '--counterfactual-budget', '0', '--out', path.join(files.tsv, 'r.html')],
      1,
    ],
    ['an unknown flag', () => ['explain', 'good', '--frobnicate'], 2],
  ];
  it.each(cases.map(([label, args, code]) => [label, args, code] as const))('%s', async (label, args, code) => {
    expectClean(await run(args()), code, label);
  });
});
