import { describe, expect, it } from 'vitest';
import { checkMethod } from '../../../src/methods/conformance.js';
import { METHODS } from '../../../src/methods/registry.js';

/** Every registered method passes the conformance checks (src/methods/conformance.ts, also `interp check-method`). */
describe.each(Object.keys(METHODS))('%s', (name) => {
  it('passes every conformance check', async () => {
    const failed = (await checkMethod(name)).filter((r) => !r.pass);
    expect(failed).toEqual([]);
  });
});
