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
