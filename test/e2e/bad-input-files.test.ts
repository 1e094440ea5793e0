import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';
import { expectExit, runInProcess, type Outcome } from '../support/inProcess.js';

/**
 * The bad-input corpus for files (issue 30): special files, symbolic links, pipes and same-file outputs
 * as outputs; UTF-16, byte-order marks, binary and over-long lines in every reader; a full disk on
 * stdout; a results file whose last record lost its newline. Each case checks the exit code, one line on
 * stderr where it fails, and that no file was harmed: a device is still a device, a link still a link, an
 * input unchanged byte for byte, and no FILE.lock left behind. Most run in-process (the same `main` the
 * bin calls); those about the process's own stdout run the built CLI.
 */

const run = (...args: string[]) => runInProcess(args);

/** The built CLI with stdout on `stdout` (a file descriptor), or piped. */
function runBin(args: string[], stdout: number | 'pipe' = 'pipe', cwd = dir): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', INTERP_CACHE_DIR: path.join(os.tmpdir(), 'interp-test-cache') },
      stdio: ['ignore', stdout, 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: out, stderr: err });
    });
  });
}

let dir: string;
const at = (name: string) => path.join(dir, name);
const file = (name: string, content: string | Buffer) => {
  fs.writeFileSync(at(name), content);
  return at(name);
};
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const withBom = (name: string, text: string) => file(name, Buffer.concat([BOM, Buffer.from(text)]));
const utf16 = (name: string, text: string) =>
  file(name, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));

/** Every input's bytes, to check after each case that none was touched. */
const inputs = new Map<string, Buffer>();
const input = (name: string, content: string | Buffer) => {
  const f = file(name, content);
  inputs.set(f, fs.readFileSync(f));
  return f;
};
const expectInputsUnharmed = () => {
  for (const [f, bytes] of inputs) expect(fs.readFileSync(f).equals(bytes), `${f} unchanged`).toBe(true);
};
const expectNoLocks = () => expect(fs.readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);

/** A character device, as mknod makes it (tests run as root); null where this system will not. */
function device(name: string, minor: 3 | 5 | 7): string | null {
  try {
    execFileSync('mknod', [at(name), 'c', '1', String(minor)], { stdio: 'ignore' });
    return at(name);
  } catch {
    return null;
  }
}
const isCharDevice = (f: string) => fs.lstatSync(f).isCharacterDevice();
let devNull: string | null;
let devFull: string | null;
let devZero: string | null;

const TSV = 'a good film\t1\na dull film\t0\n';
const JSONL = '{"id": "a", "text": "a good film", "label": "1"}\n{"id": "b", "text": "a dull film", "label": "0"}\n';
const ERASER = JSON.stringify([
  { idx: 'a', sentence: 'a good film', label: 1, evidence: { text: 'good' } },
  { idx: 'b', sentence: 'a dull film', label: 0, evidence: { text: 'dull' } },
]);
const PAIRS = '{"more": "he is strong", "less": "she is strong", "type": "gender"}\n';
const WEAT = JSON.stringify({
  targ1: { category: 'a', examples: ['rose', 'lily', 'daisy'] },
  targ2: { category: 'b', examples: ['ant', 'wasp', 'flea'] },
  attr1: { category: 'c', examples: ['good', 'nice', 'happy'] },
  attr2: { category: 'd', examples: ['bad', 'awful', 'sad'] },
});
const CORPUS = 'the film was good\nthe plot was dull and slow\na fine cast\nthe film was bad\n';
const GROUPS = '{"a": ["he"], "b": ["she"]}';
const SWAPS = '{"good": ["bad"]}';
const f: Record<string, string> = {};

beforeAll(() => {
  dir = tempDir('interp-bad-files-');
  f.tsv = input('d.tsv', TSV);
  f.jsonl = input('d.jsonl', JSONL);
  f.eraser = input('d.json', ERASER);
  f.pairs = input('pairs.jsonl', PAIRS);
  f.weat = input('weat.json', WEAT);
  f.corpus = input('corpus.txt', CORPUS);
  f.concept = input('concept.txt', 'great\nwonderful\nsuperb\nlovely\n');
  f.random = input('random.txt', 'table\nchair\nwindow\ndoor\nroad\nstone\npaper\nwall\n');
  f.swaps = input('swaps.json', SWAPS);
  f.groups = input('groups.json', GROUPS);
  f.direction = input('direction.json', JSON.stringify(Array(8).fill(0.1)));
  devNull = device('null-copy', 3);
  devFull = device('full-copy', 7);
  devZero = device('zero-copy', 5);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
// Whatever a case did, no input changed, no lock is left and every device is still a device.
afterEach(() => {
  expectInputsUnharmed();
  expectNoLocks();
  for (const d of [devNull, devFull, devZero]) if (d) expect(isCharDevice(d), d).toBe(true);
});

const cluster = (data: string, ...more: string[]) => ['concepts', 'cluster', '--data', data, '--k', '2', ...more];

/** Each reader of a user's text file, with the arguments that make it read `file`. */
const READERS: { reader: string; args: (file: string) => string[]; ext: string }[] = [
  { reader: 'fidelity --data (TSV)', ext: 'tsv', args: (x) => ['fidelity', '--data', x, '--methods', 'occlusion'] },
  { reader: 'fidelity --data (JSONL)', ext: 'jsonl', args: (x) => ['fidelity', '--data', x, '--methods', 'occlusion'] },
  { reader: 'fidelity --data (ERASER)', ext: 'json', args: (x) => ['fidelity', '--data', x, '--methods', 'occlusion'] },
  { reader: 'counterfactual --data', ext: 'tsv', args: (x) => ['counterfactual', '--data', x] },
  { reader: 'report --data', ext: 'tsv', args: (x) => ['report', '--data', x, '--methods', 'occlusion'] },
  { reader: 'concepts cluster --data', ext: 'txt', args: (x) => cluster(x) },
  { reader: 'concepts top --data', ext: 'txt', args: (x) => ['concepts', 'top', '--data', x, '--neuron', '0'] },
  {
    reader: 'concepts top --direction',
    ext: 'json',
    args: (x) => ['concepts', 'top', '--data', f.corpus, '--site', 'hidden', '--direction', x],
  },
  {
    reader: 'concepts tcav --concept',
    ext: 'txt',
    args: (x) => ['concepts', 'tcav', '--concept', x, '--random', f.random, '--inputs', f.corpus],
  },
  {
    reader: 'concepts surrogate --eval',
    ext: 'tsv',
    args: (x) => ['concepts', 'surrogate', '--data', f.tsv, '--eval', x],
  },
  { reader: 'bias pairs --data', ext: 'jsonl', args: (x) => ['bias', 'pairs', '--model', 'tiny-lm', '--data', x] },
  { reader: 'bias weat --data', ext: 'json', args: (x) => ['bias', 'weat', '--data', x] },
  {
    reader: 'bias swap --groups',
    ext: 'json',
    args: (x) => ['bias', 'swap', '--template', 'The {group} ran.', '--groups', x],
  },
  {
    reader: 'bias swap --templates',
    ext: 'txt',
    args: (x) => ['bias', 'swap', '--templates', x, '--groups', f.groups],
  },
  {
    reader: 'counterfactual --proposer list:',
    ext: 'json',
    args: (x) => ['counterfactual', 'a good film', '--proposer', `list:${x}`],
  },
  { reader: 'explore --variants', ext: 'txt', args: (x) => ['explore', 'a good film', '--variants', x] },
  { reader: 'bench --baseline', ext: 'json', args: (x) => ['bench', '--baseline', x, '--runs', '1', '--lengths', '8'] },
];

describe('one decoder for every reader: UTF-16 and binary refused, a folder named', () => {
  it.each(READERS)('$reader: UTF-16 is one usage error that names the file', async ({ args, ext }) => {
    const bad = utf16(`utf16-${ext}.${ext}`, ext === 'json' ? GROUPS : 'a good film\t1\n');
    const before = fs.readFileSync(bad);
    expectExit(await run(...args(bad)), 2, new RegExp(`${path.basename(bad)} is UTF-16 text; save it as UTF-8`));
    expect(fs.readFileSync(bad).equals(before)).toBe(true);
    expectInputsUnharmed();
  });

  it('concepts cluster: UTF-16 without a byte-order mark (NUL bytes) is refused, not clustered as garbage', async () => {
    const bad = file('utf16-nobom.txt', Buffer.from(CORPUS, 'utf16le'));
    expectExit(await run(...cluster(bad)), 2, /utf16-nobom\.txt is not UTF-8 text/);
  });

  it.runIf(process.platform === 'linux')('a copy of /dev/zero as a corpus is refused at once as binary', async () => {
    if (!devZero) return;
    const start = Date.now();
    expectExit(await run(...cluster(devZero)), 2, /zero-copy is not UTF-8 text/);
    expectExit(await run('fidelity', '--data', devZero, '--format', 'tsv'), 2, /zero-copy is not UTF-8 text/);
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(isCharDevice(devZero)).toBe(true);
  });

  it('a folder as a dataset or a corpus says so', async () => {
    fs.mkdirSync(at('folder.tsv'), { recursive: true });
    expectExit(
      await run('fidelity', '--data', at('folder.tsv')),
      2,
      /cannot read --data .*folder\.tsv: it is a folder/,
    );
    expectExit(await run(...cluster(at('folder.tsv'))), 2, /cannot read --data .*folder\.tsv: it is a folder/);
  });
});

describe('a UTF-8 byte-order mark is read as no mark, in every format', () => {
  const stdoutOf = async (args: string[]) => {
    const r = await run(...args);
    expectExit(r, 0);
    return r.stdout;
  };

  it.each([
    ['fidelity, JSONL', 'jsonl', JSONL, (x: string) => ['fidelity', '--data', x, '--methods', 'occlusion', '--json']],
    [
      'fidelity, ERASER JSON',
      'json',
      ERASER,
      (x: string) => ['fidelity', '--data', x, '--methods', 'occlusion', '--json'],
    ],
    ['fidelity, TSV', 'tsv', TSV, (x: string) => ['fidelity', '--data', x, '--methods', 'occlusion', '--json']],
    ['counterfactual --data, JSONL', 'jsonl', JSONL, (x: string) => ['counterfactual', '--data', x, '--json']],
    [
      'bias pairs, JSONL',
      'jsonl',
      PAIRS,
      (x: string) => ['bias', 'pairs', '--model', 'tiny-lm', '--data', x, '--json'],
    ],
    ['bias weat', 'json', WEAT, (x: string) => ['bias', 'weat', '--data', x, '--json']],
    [
      'bias swap --groups',
      'json',
      GROUPS,
      (x: string) => ['bias', 'swap', '--template', 'The {group} ran.', '--groups', x, '--json'],
    ],
    ['concepts cluster', 'txt', CORPUS, (x: string) => [...cluster(x), '--json']],
    [
      'counterfactual --proposer list:',
      'json',
      SWAPS,
      (x: string) => ['counterfactual', 'a good film', '--proposer', `list:${x}`, '--json'],
    ],
  ] as const)('%s: the same result as without the mark', async (_, ext, text, args) => {
    const plain = file(`plain-${ext}-${text.length}.${ext}`, text);
    const marked = withBom(`bom-${ext}-${text.length}.${ext}`, text);
    const strip = (s: string) => s.replaceAll(path.basename(marked), 'X').replaceAll(path.basename(plain), 'X');
    expect(strip(await stdoutOf(args(marked)))).toBe(strip(await stdoutOf(args(plain))));
  });
});

describe('--proposer list: the shape of the list', () => {
  it.each([
    ['a string, not a list', '{"good": "bad"}', /list:.*odd-1\.json: "good" must map to a list of strings/],
    ['numbers in the list', '{"good": [1, 2]}', /list:.*odd-2\.json: "good" must map to a list of strings/],
  ])('%s is a usage error that names the file', async (_, text, message) => {
    const list = input(`odd-${text.includes('[') ? 2 : 1}.json`, text);
    expectExit(await run('counterfactual', 'a good film', '--proposer', `list:${list}`), 2, message);
    expect(fs.readFileSync(list, 'utf8')).toBe(text);
  });
});

describe('lines have a size limit; fidelity counts what it cuts', () => {
  it('a line over 1 MiB is refused with its file and line, promptly (dataset and streamed corpus)', async () => {
    const huge = file('huge.tsv', `a good film\t1\n${'good '.repeat(220_000)}\t1\n`);
    const start = Date.now();
    expectExit(await run('fidelity', '--data', huge), 2, /huge\.tsv:2 is longer than 1 MiB/);
    const corpus = file('huge.txt', `a good film\n${'good '.repeat(220_000)}\n`);
    expectExit(await run(...cluster(corpus)), 2, /huge\.txt:2 is longer than 1 MiB/);
    expect(Date.now() - start).toBeLessThan(10_000);
  });

  it('rows longer than the model takes are counted in one warning, and refused under --strict', async () => {
    const long = input('long.tsv', `${'good '.repeat(300)}\t1\n${'bad '.repeat(300)}\t0\na dull film\t0\n`);
    const warned = await run('fidelity', '--data', long, '--methods', 'occlusion');
    expectExit(warned, 0);
    expect(warned.stderr).toBe(
      `interp: warning: ${long}: 2 row(s) are longer than the 128 tokens 'sst2-tiny' takes and were cut to their first 128 (first: example 0)\n`,
    );
    expectExit(
      await run('fidelity', '--data', long, '--strict'),
      2,
      /2 row\(s\) are longer .* \(refused under --strict\)\n$/,
    );
    const short = await run('fidelity', '--data', f.tsv, '--methods', 'occlusion');
    expect(short.stderr).toBe('');
  });
});

describe('outputs never replace special files', () => {
  const svgOf = (out: string) => ['explain', 'a good film', '--svg', out];
  const reportTo = (out: string) => [
    'report',
    'a good film',
    '--counterfactual-budget',
    '0',
    '--methods',
    'occlusion',
    '--out',
    out,
  ];

  it.each([
    ['explain --svg', svgOf],
    ['report --out', reportTo],
    ['concepts cluster --svg', (out: string) => [...cluster(f.corpus), '--svg', out]],
    ['fidelity --out', (out: string) => ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', out]],
    ['counterfactual --out', (out: string) => ['counterfactual', '--data', f.tsv, '--out', out]],
  ])('%s onto a copy of /dev/null writes through: still a character device, no lock', async (_, args) => {
    if (!devNull) return;
    expectExit(await run(...args(devNull)), 0);
    expect(isCharDevice(devNull)).toBe(true);
    expectNoLocks();
    expectInputsUnharmed();
  });

  it.each([
    ['explain --svg', svgOf],
    ['report --out', reportTo],
    ['fidelity --out', (out: string) => ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', out]],
    ['counterfactual --out', (out: string) => ['counterfactual', '--data', f.tsv, '--out', out]],
  ])('%s onto a copy of /dev/full: exit 1, one line, no "wrote", still a device, no lock', async (_, args) => {
    if (!devFull) return;
    const start = Date.now();
    const r = await run(...args(devFull));
    expectExit(r, 1, /cannot write .*full-copy: no space left on the device/);
    expect(Date.now() - start).toBeLessThan(30_000);
    expect(isCharDevice(devFull)).toBe(true);
    expectNoLocks();
  });

  it('--svg through a symbolic link replaces the target, never the link', async () => {
    file('target.svg', 'old');
    fs.symlinkSync('target.svg', at('link.svg'));
    expectExit(await run(...svgOf(at('link.svg'))), 0);
    expect(fs.lstatSync(at('link.svg')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(at('target.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('--out through a dangling symbolic link creates its target', async () => {
    fs.symlinkSync('made.html', at('dangling.html'));
    expectExit(await run(...reportTo(at('dangling.html'))), 0);
    expect(fs.lstatSync(at('dangling.html')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(at('made.html'), 'utf8')).toMatch(/<html/i);
  });

  it('fidelity --out through a symbolic link appends to its target and resumes from it', async () => {
    fs.symlinkSync('results-target.jsonl', at('results-link.jsonl'));
    const args = ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', at('results-link.jsonl')];
    expectExit(await run(...args), 0);
    const again = await run(...args);
    expectExit(again, 0);
    expect(fs.lstatSync(at('results-link.jsonl')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(at('results-target.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expectNoLocks();
  });

  it('--svg to a symbolic link to /proc/self/fd/1 writes through to stdout; the link stays', async () => {
    fs.symlinkSync('/proc/self/fd/1', at('stdout-link.svg'));
    const r = await runBin(['explain', 'a good film', '--svg', at('stdout-link.svg'), '--json']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^<svg[\s\S]*<\/svg>\{/);
    expect(fs.lstatSync(at('stdout-link.svg')).isSymbolicLink()).toBe(true);
  });

  it('fidelity --out /dev/stdout streams the records to its descriptor (a socket here), resuming from nothing', async () => {
    const r = await runBin(['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', '/dev/stdout', '--json']);
    expectExit(r, 0);
    const [first, second, ...rest] = r.stdout.split('\n');
    expect([first, second].map((l) => JSON.parse(l).schema)).toEqual(Array(2).fill('interp/fidelity-record@1'));
    expect(JSON.parse(rest.join('\n')).schema).toBe('interp/fidelity@1');
    expectNoLocks();
  });

  it('--svg into a pipe with a reader writes through; without one it is refused at once', async () => {
    execFileSync('mkfifo', [at('pipe.svg')]);
    const reader = spawn('cat', [at('pipe.svg')]);
    let read = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (read += d));
    const closed = new Promise((resolve) => reader.on('close', resolve));
    expectExit(await run(...svgOf(at('pipe.svg'))), 0);
    await closed;
    expect(read).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expectExit(await run(...svgOf(at('pipe.svg'))), 1, /cannot write .*pipe\.svg: nothing is reading it/);
    expect(fs.lstatSync(at('pipe.svg')).isFIFO()).toBe(true);
  });

  it('fidelity --out onto a pipe is refused before any work: results are appended record by record', async () => {
    execFileSync('mkfifo', [at('pipe.jsonl')]);
    expectExit(
      await run('fidelity', '--data', f.tsv, '--out', at('pipe.jsonl')),
      2,
      /cannot write --out .*pipe\.jsonl: a pipe cannot take results/,
    );
    expect(fs.lstatSync(at('pipe.jsonl')).isFIFO()).toBe(true);
    expectNoLocks();
  });

  it('--svg onto a folder says so', async () => {
    fs.mkdirSync(at('a-folder'), { recursive: true });
    expectExit(await run(...svgOf(at('a-folder'))), 1, /cannot write .*a-folder: it is a folder/);
  });
});

describe('an output is never one of the inputs (by device and inode)', () => {
  it.each([
    [
      'fidelity --out the --data file',
      () => ['fidelity', '--data', f.jsonl, '--out', f.jsonl],
      /the file read as --data/,
    ],
    [
      'fidelity --out a hard link to the --data file',
      () => {
        fs.linkSync(f.tsv, at('hard.tsv'));
        return ['fidelity', '--data', f.tsv, '--out', at('hard.tsv')];
      },
      /refusing to write .*hard\.tsv: it is the file read as --data/,
    ],
    [
      'fidelity --out a symbolic link to the --data file',
      () => {
        fs.symlinkSync(f.jsonl, at('soft.jsonl'));
        return ['fidelity', '--data', f.jsonl, '--out', at('soft.jsonl')];
      },
      /refusing to write .*soft\.jsonl: it is the file read as --data/,
    ],
    [
      'counterfactual --out the --data file',
      () => ['counterfactual', '--data', f.tsv, '--out', f.tsv],
      /read as --data/,
    ],
    [
      'counterfactual --out the --proposer list',
      () => ['counterfactual', '--data', f.tsv, '--proposer', `list:${f.swaps}`, '--out', f.swaps],
      /refusing to write .*swaps\.json: it is the file read as --proposer/,
    ],
    ['concepts cluster --svg the corpus', () => [...cluster(f.corpus), '--svg', f.corpus], /read as --data/],
    [
      'report --out the --data file',
      () => ['report', '--data', f.tsv, '--methods', 'occlusion', '--out', f.tsv],
      /read as --data/,
    ],
  ])('%s is refused, and the input is unchanged', async (_, args, message) => {
    expectExit(await run(...args()), 2, message);
    expectInputsUnharmed();
    expectNoLocks();
  });
});

describe('stdout on a full disk', () => {
  it.each([
    ['explain --json', ['explain', 'a good film', '--json']],
    ['explain (a table)', ['explain', 'a good film']],
    ['fidelity --json', ['fidelity', '--data', 'd.tsv', '--methods', 'occlusion', '--json']],
  ])('%s > /dev/full: one line, exit 1', async (_, args) => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      expectExit(await runBin(args, full), 1, /^interp: error: cannot write to stdout: no space left on the device\n$/);
    } finally {
      fs.closeSync(full);
    }
    expectInputsUnharmed();
  });
});

describe('resuming: a last line without its newline is a cut record', () => {
  it.each([
    [
      'fidelity',
      (out: string, limit: string[]) => ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', out, ...limit],
    ],
    ['counterfactual', (out: string, limit: string[]) => ['counterfactual', '--data', f.tsv, '--out', out, ...limit]],
  ])('%s drops it and computes it again: one whole record a line', async (name, args) => {
    const out = at(`cut-${name}.jsonl`);
    expectExit(await run(...args(out, ['--limit', '1'])), 0);
    const whole = fs.readFileSync(out, 'utf8');
    expect(whole.endsWith('\n')).toBe(true);
    fs.writeFileSync(out, whole.slice(0, -1));
    expectExit(await run(...args(out, [])), 0);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    const records = lines.map((l) => JSON.parse(l) as { key: string });
    expect(new Set(records.map((r) => r.key)).size).toBe(2);
    expect(lines[0]).toBe(whole.trimEnd());
    expectNoLocks();
  });

  it("a last line of someone else's is never cut off: without its newline the file is refused", async () => {
    const notes = input('notes.txt', 'my own notes');
    const args = ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', notes];
    expectExit(await run(...args), 2, /--out .*notes\.txt ends in a line that is no interp record/);
    expectInputsUnharmed();
    expectNoLocks();
  });

  it('with its newline it is kept, warned about, and the records follow it', async () => {
    const notes = file('notes-ended.txt', 'my own notes\n');
    const r = await run('fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', notes);
    expectExit(r, 0);
    expect(r.stderr).toMatch(/notes-ended\.txt: 1 line\(s\) are not results and were skipped \(first at line 1\)/);
    const lines = fs.readFileSync(notes, 'utf8').split('\n');
    expect(lines[0]).toBe('my own notes');
    expect(lines.slice(1, 3).map((l) => JSON.parse(l).schema)).toEqual([
      'interp/fidelity-record@1',
      'interp/fidelity-record@1',
    ]);
  });

  it('SIGTERM during fidelity --out leaves no FILE.lock, and the run resumes from what it wrote', async () => {
    const many = file('many.tsv', Array.from({ length: 300 }, (_, i) => `film number ${i} was good\t1\n`).join(''));
    const out = at('killed.jsonl');
    const args = ['fidelity', '--data', many, '--methods', 'occlusion,kernel-shap', '--out', out];
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), ...args], { stdio: 'ignore' });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_, signal) => resolve(signal)));
    for (let i = 0; i < 200 && !(fs.existsSync(out) && fs.statSync(out).size > 0); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(`${out}.lock`)).toBe(true);
    child.kill('SIGTERM');
    expect(await ended).toBe('SIGTERM');
    expectNoLocks();
    const written = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(600);
  });

  it('a record cut mid-line is dropped and written again whole', async () => {
    const out = at('cut-half.jsonl');
    const args = ['fidelity', '--data', f.tsv, '--methods', 'occlusion', '--out', out];
    expectExit(await run(...args), 0);
    const whole = fs.readFileSync(out, 'utf8');
    fs.writeFileSync(out, whole.slice(0, whole.length - 40));
    expectExit(await run(...args), 0);
    expect(fs.readFileSync(out, 'utf8')).toBe(whole);
  });
});
