import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openSessions } from '../../src/runtime/session.js';
import { call, startServer, type Running } from '../support/server.js';

/**
 * A server holds a large model's derived sessions (gradient, instrumented, cut graphs) only for the requests
 * using them (issue 37): with INTERP_DERIVED_KEEP_MB=0 the embedded tiny-lm counts as large.
 */
describe('interp serve releases the derived sessions of a large model when its requests end', () => {
  let server: Running;
  beforeAll(async () => {
    vi.stubEnv('INTERP_DERIVED_KEEP_MB', '0');
    server = await startServer({ concurrency: 4 });
  });
  afterAll(async () => {
    await server.close();
    vi.unstubAllEnvs();
  });

  const text = 'the cat sat on the mat';
  const requests: [string, Record<string, unknown>][] = [
    ['explain', { text, model: 'tiny-lm', method: 'integrated-gradients' }],
    ['explain', { text: 'the cat sat', model: 'tiny-lm', method: 'integrated-gradients', steps: 20 }],
    ['attention', { text, model: 'tiny-lm' }],
    ['lens', { text, model: 'tiny-lm' }],
    ['patch', { text, model: 'tiny-lm', corrupted: 'the dog sat on the mat' }],
  ];
  const send = ([route, body]: [string, Record<string, unknown>]) =>
    call(`${server.url}/v1/${route}`, { body }).then((a) => `${a.status} ${a.text}`);

  it('in turn and all at once: the same answers, and only the scoring session open after', async () => {
    const alone: string[] = [];
    for (const r of requests) alone.push(await send(r));
    for (const a of alone) expect(a.startsWith('200 ')).toBe(true);
    const open = openSessions().open;
    // Concurrent requests share a derived session; one ending never releases it under the others.
    const together = await Promise.all([...requests, ...requests].map(send));
    expect(together).toEqual([...alone, ...alone]);
    expect(openSessions().open).toBe(open);
  }, 120_000);
});
