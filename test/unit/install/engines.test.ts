import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers.js';

const require = createRequire(import.meta.url);
const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string }; dev?: boolean }>;
};
const claimed = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).engines.node as string;

/** The lowest major version a range like '>=20' or '^18.17 || >=20' admits. */
const lowestMajor = (range: string) => Math.min(...[...range.matchAll(/(\d+)(?:\.\d+)*/g)].map((m) => Number(m[1])));

describe('the Node versions package.json claims', () => {
  it('every installed package admits the lowest claimed major (no EBADENGINE on npm ci)', () => {
    const floor = lowestMajor(claimed);
    const refusing = Object.entries(lock.packages)
      .filter(([name, p]) => name && p.engines?.node && lowestMajor(p.engines.node) > floor)
      .map(([name, p]) => `${name} ${p.version} (node ${p.engines!.node})`);
    expect(refusing).toEqual([]);
  });

  it('the cookie override (1.1.1, Node ≥ 18) gives fastify.inject the encoder it calls', () => {
    const { encodeCookies } = require('light-my-request/lib/cookies.js') as {
      encodeCookies: (cookies: object, path: string) => string[];
    };
    expect(encodeCookies({ a: '1', b: { value: 'x y', path: '/p' }, c: { value: '2', path: '/q' } }, '/p/r')).toEqual([
      'a=1',
      'b=x%20y',
    ]);
  });
});
