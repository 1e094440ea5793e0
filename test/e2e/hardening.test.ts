import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { additiveClassifier, ADDITIVE_WEIGHTS, writePlanted } from '../../fixtures/planted.js';
import { llama, repoRoot, runCli, skipWithoutShared, tempDir } from '../helpers.js';

/** The faults a new user found (issue 16), each checked as that user met it. */

const bin = path.join(repoRoot, 'bin', 'interp.js');
let dir: string;
let additive: string;
let dev: string;

beforeAll(() => {
  dir = tempDir('interp-hardening-');
  additive = writePlanted(additiveClassifier());
  const sentences = [
    'the movie was great but the plot was boring',
    'a fun film with a dull plot',
    'awful , boring and dull',
  ];
  dev = path.join(dir, 'planted.jsonl');
  fs.writeFileSync(
    dev,
    sentences
      .map((text, i) => JSON.stringify({ id: `s${i}`, text, label: 'POSITIVE', weights: ADDITIVE_WEIGHTS }))
      .join('\n'),
  );
});

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/** Run a shell line, killing its whole process group after `limitMs`, or with `signal` after `signalAfterMs`. */
function shell(line: string, limitMs: number, signal?: { name: NodeJS.Signals; afterMs: number }): Promise<Finished> {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn('bash', ['-c', line], {
      detached: true,
      env: { ...process.env, INTERP_CACHE_DIR: path.join(os.tmpdir(), 'interp-test-cache') },
    });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const kill = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), limitMs);
    const send = signal && setTimeout(() => process.kill(-child.pid!, signal.name), signal.afterMs);
    child.on('close', (code, sig) => {
      clearTimeout(kill);
      if (send) clearTimeout(send);
      resolve({ code, signal: sig, output, ms: Date.now() - start });
    });
  });
}

describe('processes end, whatever the terminal', () => {
  it('a terminal of no size gets no spinner, and the command ends promptly', async () => {
    const log = path.join(dir, 'tty.log');
    const r = await shell(
      `script -qc "stty cols 0 rows 0; ${process.execPath} ${bin} explain 'the film was a delight' >/dev/null" ${log}`,
      60_000,
    );
    expect(r.code, r.output).toBe(0);
    expect(fs.statSync(log).size).toBeLessThan(10_000);
  });

  it('SIGTERM stops a long run at once, spinner or not, and nothing is left running', async () => {
    const marker = path.join(dir, `marker-${process.pid}`);
    const long = `${process.execPath} ${bin} bench --methods occlusion,lime --lengths 64 --runs 1000 --markdown ${marker}.md`;
    const plain = await shell(long, 30_000, { name: 'SIGTERM', afterMs: 2_500 });
    expect(plain.ms).toBeLessThan(8_000);
    expect(plain.signal === 'SIGTERM' || plain.code === 143, `${plain.code} ${plain.signal}`).toBe(true);
    // Under a terminal the spinner runs; the signal goes to interp itself, as a shell's kill would.
    const tty = await shell(
      `script -eqc "stty cols 80 rows 24; ${long}" /dev/null & sleep 2.5; pkill -TERM -f "^${process.execPath} .*${marker}"; wait $!; echo "exit $?"`,
      30_000,
    );
    expect(tty.ms).toBeLessThan(8_000);
    expect(tty.output).toMatch(/exit (143|130|1)\b/);
    expect((await shell(`pgrep -f "^${process.execPath} .*${marker}" || echo none`, 5_000)).output.trim()).toBe('none');
    expect(fs.existsSync(`${marker}.md`)).toBe(false);
  });

  it('a reader that closes early is no crash: output stops quietly', async () => {
    const text = Array.from({ length: 30 }, () => 'the cat sat').join(' ');
    for (const line of [
      `set -o pipefail; ${process.execPath} ${bin} explain --help | head -1`,
      `set -o pipefail; ${process.execPath} ${bin} attention "${text}" --truncate --json | head -c 10`,
    ]) {
      const r = await shell(line, 60_000);
      expect(r.output, line).not.toMatch(/EPIPE|Error|at /);
      expect(r.code, `${line}: ${r.output}`).toBe(0);
    }
  });
});

describe('input and output files', () => {
  it('odd dataset rows are counted in one warning each, and a TSV file of pairs is read as TSV', async () => {
    const odd = path.join(dir, 'odd.tsv');
    fs.writeFileSync(odd, 'good film\t1\nbad film\tbanana\nok\tx\ty\n');
    const r = await runCli(['fidelity', '--data', odd, '--methods', 'occlusion', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 row\(s\) have more than two columns.*line 3/);
    expect(r.stderr).toMatch(/2 row\(s\) have a label the model does not know \(banana, y\)/);
    const sentence = path.join(dir, 'sentence.jsonl');
    fs.writeFileSync(sentence, '{"sentence": "good", "label": 1}\n');
    expect((await runCli(['fidelity', '--data', sentence, '--methods', 'random'])).stderr).toMatch(
      /"sentence" rather than "text"/,
    );
    const pairs = path.join(dir, 'pairs.tsv');
    fs.writeFileSync(
      pairs,
      'sent_more\tsent_less\tstereo_antistereo\tbias_type\nHe is strong.\tShe is strong.\tstereo\tgender\n',
    );
    const p = await runCli(['bias', 'pairs', '--model', 'tiny-lm', '--data', pairs, '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).pairs).toBe(1);
  });

  it('--out: the folder is made, a second run on the same file is refused, a stale lock is taken over', async () => {
    const out = path.join(dir, 'new', 'folder', 'results.jsonl');
    const args = ['fidelity', '--data', dev, '--model', additive, '--methods', 'occlusion', '--out', out];
    expect((await runCli(args)).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3);
    fs.writeFileSync(`${out}.lock`, String(process.pid));
    const busy = await runCli(args);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(new RegExp(`another interp run \\(pid ${process.pid}\\) is writing --out`));
    fs.writeFileSync(`${out}.lock`, '999999999');
    expect((await runCli(args)).code).toBe(0);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
  });

  it('a damaged line in the middle of --out is skipped with a warning, and the records after it are kept', async () => {
    const out = path.join(dir, 'damaged.jsonl');
    const args = ['fidelity', '--data', dev, '--model', additive, '--methods', 'occlusion', '--out', out, '--json'];
    await runCli(args);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    fs.writeFileSync(out, [lines[0], '{"oops": tru', lines[1], lines[2]].join('\n') + '\n');
    const r = await runCli(args);
    expect(r.stderr).toMatch(/1 line\(s\) are not results and were skipped \(first at line 2\)/);
    expect(JSON.parse(r.stdout).rows[0].examples).toBe(3);
  });

  it('a file that cannot be written is named as the user gave it, never as a temporary file', async () => {
    const inside = path.join(dev, 'x.svg');
    const r = await runCli(['explain', 'good film', '--svg', inside]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`interp: error: cannot write ${inside}: a folder on its path is a file`);
    const out = await runCli(['fidelity', '--data', dev, '--out', path.join(dev, 'x.jsonl')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot write --out .*: a folder on its path is a file/);
  });

  it('a damaged cache entry is rebuilt, said once on stderr', async () => {
    const cache = tempDir('interp-cache-');
    const args = ['explain', 'good film', '--method', 'saliency', '--json'];
    const first = await runCli(args, { INTERP_CACHE_DIR: cache });
    // Every file of the entry, its stored tensors too.
    const entries = fs
      .readdirSync(path.join(cache, 'graphs'), { recursive: true, encoding: 'utf8' })
      .map((f) => path.join(cache, 'graphs', f))
      .filter((f) => fs.statSync(f).isFile());
    expect(entries.some((f) => f.includes(`${path.sep}tensors${path.sep}`))).toBe(true);
    for (const f of entries) fs.truncateSync(f, 1000);
    const second = await runCli(args, { INTERP_CACHE_DIR: cache });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toMatch(/^interp: warning: the cache entry .* was damaged; rebuilding it\n$/);
    const third = await runCli(args, { INTERP_CACHE_DIR: cache });
    expect(third.stderr).toBe('');
  });
});

describe('defaults that work', () => {
  it('a threshold without a method gates the explanations, never the random control', async () => {
    const args = ['fidelity', '--data', dev, '--model', additive, '--methods', 'occlusion,random', '--score', 'logit'];
    const gate = await runCli([...args, '--min', 'comprehensiveness=0.5']);
    expect(gate.code, gate.stderr).toBe(0);
    const named = await runCli([...args, '--min', 'random:comprehensiveness=100']);
    expect(named.code).toBe(3);
  });

  it('fidelity on a causal LM reads log-probabilities without being told', async () => {
    const lm = path.join(dir, 'lm.tsv');
    fs.writeFileSync(lm, 'Once upon a time there was a girl\t0\nThe dog ran to the park\t0\n');
    const r = await runCli(['fidelity', '--model', 'tiny-lm', '--data', lm, '--methods', 'occlusion,random', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--generate leaves room for the prompt, and --truncate makes that room', async () => {
    const long = Array.from({ length: 100 }, () => 'the film was').join(' ');
    const r = await runCli(['explain', long, '--model', 'tiny-lm', '--generate', '20', '--truncate', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Generation may stop early at the end-of-sequence token; what matters is that it ran.
    expect(JSON.parse(r.stdout).generated.length).toBeGreaterThan(0);
    const over = await runCli(['explain', long, '--model', 'tiny-lm', '--generate', '200', '--truncate']);
    expect(over.code).toBe(2);
    expect(over.stderr.trim()).toBe(
      "interp: error: --generate 200 leaves no room for the prompt: 'tiny-lm' takes at most 126",
    );
  });

  it('TCAV at the last layer of a classifier reads [CLS], and a significant score says its direction', async () => {
    const inputs = path.join(repoRoot, 'test', 'e2e', 'golden', 'inputs');
    const r = await runCli([
      ...[
        'concepts',
        'tcav',
        '--concept',
        path.join(inputs, 'concept.txt'),
        '--random',
        path.join(inputs, 'random.txt'),
      ],
      ...['--inputs', path.join(inputs, 'inputs.txt'), '--layer', '2', '--target', 'POSITIVE', '--json'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.scores.some((s: number) => s > 0) || out.nullScores.some((s: number) => s > 0)).toBe(true);
    expect(out.direction).toBe(out.significant ? (out.mean > out.nullMean ? 'above random' : 'below random') : 'none');
  });

  it('the package is not called interp on npm, and its command is', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.name).not.toBe('interp');
    expect(Object.keys(pkg.bin)).toEqual(['interp']);
  });
});

describe('what people see', () => {
  it('tables fit 100 columns off a terminal', async () => {
    const runs = [
      await runCli(['fidelity', '--data', dev, '--model', additive, '--methods', 'occlusion,random']),
      await runCli(['bench', '--lengths', '8', '--runs', '1', '--warmup', '0', '--methods', 'occlusion,lime']),
    ];
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      for (const line of r.stdout.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(100);
    }
  });

  it('stderr stays empty on a successful run that draws a chart', async () => {
    const r = await runCli(['bias', 'swap', '--template', 'The {group} was great.', '--svg', path.join(dir, 'b.svg')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const svg = fs.readFileSync(path.join(dir, 'b.svg'), 'utf8');
    expect(svg).toMatch(/<svg/);
  });

  it.skipIf(skipWithoutShared)('a target with a leading space keeps it, and shows it', async () => {
    const r = await runCli(['explain', 'Once upon a time', '--model', llama, '--target', ' there']);
    expect(r.code, r.stderr).toBe(0);
    // The header (everything above the table) wraps to the width where the model's path makes it long.
    expect(r.stdout.split('┌')[0].replace(/\n/g, ' ')).toMatch(/next-token '␣there'/);
    const json = await runCli(['explain', 'Once upon a time', '--model', llama, '--target', ' there', '--json']);
    expect(JSON.parse(json.stdout).target.name).toBe(' there');
  });
});
