import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { expectExit } from '../support/inProcess.js';

/**
 * Environment variables get the bounds and the messages of the flags they stand for (issue 30):
 * INTERP_THREADS is --threads, and INTERP_CACHE_DIR must be a folder that can hold files. Each runs the
 * built CLI, since the environment is read once per process.
 */

let dir: string;
beforeAll(() => {
  dir = tempDir('interp-bad-env-');
  fs.writeFileSync(path.join(dir, 'a-file'), 'not a folder');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('INTERP_THREADS', () => {
  it.each(['-3', '1.5', '0', '0x10', '1e2', 'four', '257', '100000'])(
    '%s is refused as --threads would be',
    async (v) => {
      const r = await runCli(['explain', 'the film', '--json'], { INTERP_THREADS: v });
      expectExit(r, 2, new RegExp(`^interp: error: INTERP_THREADS must be an integer from 1 to 256, got '${v}'\\n$`));
      expect(r.stdout).toBe('');
    },
  );

  it('--threads has the same bounds', async () => {
    expectExit(
      await runCli(['explain', 'the film', '--threads', '257']),
      2,
      /--threads must be an integer from 1 to 256/,
    );
  });

  it('a value in bounds runs', async () => {
    expectExit(await runCli(['explain', 'the film', '--json'], { INTERP_THREADS: '2' }), 0);
  });
});

describe('INTERP_LANES, INTERP_LANES_AFTER_MS and INTERP_LANES_MIN_CUT_MS', () => {
  it.each([
    ['INTERP_LANES', '0', 'an integer from 1 to 8'],
    ['INTERP_LANES', '9', 'an integer from 1 to 8'],
    ['INTERP_LANES', 'two', 'an integer from 1 to 8'],
    ['INTERP_LANES_AFTER_MS', '-1', 'an integer from 0 to 3600000'],
    ['INTERP_LANES_AFTER_MS', '1.5', 'an integer from 0 to 3600000'],
    ['INTERP_LANES_MIN_CUT_MS', '3600001', 'an integer from 0 to 3600000'],
  ])('%s=%s is refused before any work', async (name, v, bounds) => {
    const r = await runCli(['explain', 'the film', '--json'], { [name]: v });
    expectExit(r, 2, new RegExp(`^interp: error: ${name} must be ${bounds}, got '${v}'\\n$`));
    expect(r.stdout).toBe('');
  });

  it('interp serve refuses them at start-up', async () => {
    const r = await runCli(['serve', '--port', '0'], { INTERP_LANES: '0' });
    expectExit(r, 2, /^interp: error: INTERP_LANES must be an integer from 1 to 8, got '0'\n$/);
  });

  // The lanes' workers start at once and hold sessions when the command ends: it must still exit, at once (a worker
  // left referenced kept the process alive, and one still running when it ended aborted it), with the same output.
  it("two lanes give one lane's explanation, and the command exits", async () => {
    const args = ['explain', 'a gorgeous and moving film, though the middle drags', '--method', 'shapley', '--json'];
    const lanes = (n: string) => ({
      INTERP_THREADS: '2',
      INTERP_LANES: n,
      INTERP_LANES_AFTER_MS: '0',
      INTERP_LANES_MIN_CUT_MS: '0',
    });
    const [one, two] = [await runCli(args, lanes('1')), await runCli(args, lanes('2'))];
    expectExit(two, 0);
    expect(two.stdout).toBe(one.stdout);
  }, 60_000);
});

describe('INTERP_DERIVED_KEEP_MB', () => {
  it.each(['-1', '1.5', 'many', '1000001'])('%s is refused before any work', async (v) => {
    const r = await runCli(['explain', 'the film', '--json'], { INTERP_DERIVED_KEEP_MB: v });
    expectExit(
      r,
      2,
      new RegExp(`^interp: error: INTERP_DERIVED_KEEP_MB must be an integer from 0 to 1000000, got '${v}'\\n$`),
    );
    expect(r.stdout).toBe('');
  });

  it('interp serve refuses it at start-up, not at its first request', async () => {
    const r = await runCli(['serve', '--port', '0'], { INTERP_DERIVED_KEEP_MB: 'x' });
    expectExit(r, 2, /^interp: error: INTERP_DERIVED_KEEP_MB must be an integer from 0 to 1000000, got 'x'\n$/);
  });

  it('0 (every model counts as large) gives the same explanation', async () => {
    const [kept, scoped] = [
      await runCli(['explain', 'the film', '--method', 'integrated-gradients', '--json']),
      await runCli(['explain', 'the film', '--method', 'integrated-gradients', '--json'], {
        INTERP_DERIVED_KEEP_MB: '0',
      }),
    ];
    expectExit(scoped, 0);
    expect(scoped.stdout).toBe(kept.stdout);
  });
});

describe('INTERP_CACHE_DIR', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a folder under /proc', () => '/proc/self/interp-cache', /is on a kernel file system that holds no files/],
    ['/proc itself', () => '/proc', /is on a kernel file system/],
    ['a folder under /sys', () => '/sys/kernel/interp', /is on a kernel file system/],
  ];
  it.each(cases)('%s is refused at once, in one line', async (_, value, message) => {
    const started = Date.now();
    const r = await runCli(['explain', 'the film', '--model', 'tiny-lm', '--json'], { INTERP_CACHE_DIR: value() });
    expectExit(r, 2, message);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('a folder that does not exist yet is made', async () => {
    const cache = path.join(dir, 'new', 'cache');
    expectExit(await runCli(['explain', 'the film', '--model', 'tiny-lm', '--json'], { INTERP_CACHE_DIR: cache }), 0);
    expect(fs.existsSync(path.join(cache, 'graphs'))).toBe(true);
  });
});
