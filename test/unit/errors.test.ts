import { describe, expect, it } from 'vitest';
import { cliParam, ExitCode, InterpError, plainParam } from '../../src/errors.js';
import { resolveMethodConfig } from '../../src/methods/config.js';

const caught = (f: () => unknown): InterpError => {
  try {
    f();
  } catch (e) {
    if (e instanceof InterpError) return e;
    throw e;
  }
  throw new Error('did not throw');
};

describe('core errors carry a kind and the parameter at fault', () => {
  it('a parameter out of its bounds names the parameter, worded by each front end', () => {
    const e = caught(() => resolveMethodConfig('lime', { samples: 1e9 }));
    expect(e.kind).toBe('usage');
    expect(e.exitCode).toBe(ExitCode.usage);
    expect(e.param).toBe('samples');
    expect(e.worded(cliParam)).toBe('--samples must be an integer from 2 to 100000, got 1000000000');
    expect(e.worded(plainParam)).toBe("'samples' must be an integer from 2 to 100000, got 1000000000");
  });

  it('every declared bound is enforced: min, max and integrality', () => {
    expect(caught(() => resolveMethodConfig('integrated-gradients', { steps: 5000 })).param).toBe('steps');
    expect(caught(() => resolveMethodConfig('integrated-gradients', { steps: 2.5 })).param).toBe('steps');
    expect(caught(() => resolveMethodConfig('lrp', { epsilon: -1 })).param).toBe('epsilon');
    expect(caught(() => resolveMethodConfig('integrated-gradients', {}, { rule: 'simpson' })).param).toBe('rule');
    expect(caught(() => resolveMethodConfig('nope')).param).toBe('method');
  });
});

describe('every parameter a core message mentions is worded by the front end', () => {
  it('the parameter at fault and the others it names', () => {
    const e = new InterpError('give {param} or {param:flow}, not both', 'usage', 'rollout');
    expect(e.message).toBe('give --rollout or --flow, not both');
    expect(e.worded(plainParam)).toBe("give 'rollout' or 'flow', not both");
  });

  it('no core message names a --flag directly', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { repoRoot } = await import('../helpers.js');
    const { sourceFiles } = await import('../support/duplicates.js');
    // Every string literal among the arguments of an error constructor, calls over several lines included.
    const call = /(?:usageError|usageFault|runtimeError)\(((?:[^()]|\([^()]*\))*)\)/g;
    const offenders = sourceFiles(path.join(repoRoot, 'src')).flatMap((file) =>
      [...fs.readFileSync(file, 'utf8').matchAll(call)]
        .filter((m) => /(['`"])[^'`"]*--[a-z][^'`"]*\1/.test(m[1]))
        .map((m) => `${path.relative(repoRoot, file)}: ${m[0].slice(0, 80)}`),
    );
    expect(offenders).toEqual([]);
  });
});
