import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  additiveClassifier,
  factLM,
  groupClassifier,
  inductionLM,
  negationClassifier,
  topicModel,
  writePlanted,
} from '../../fixtures/planted.js';
import { distilbert, llama, repoRoot, runCli, sharedDir, skipWithoutShared } from '../helpers.js';
import { CASES, type GoldenCase } from './golden/cases.js';

/**
 * Byte-for-byte CLI outputs recorded before a refactor. `INTERP_GOLDEN=update` rewrites them;
 * anything else compares. Paths are replaced by their placeholders so the records are portable.
 */
const goldenDir = path.join(repoRoot, 'test', 'e2e', 'golden', 'records');
const inputs = path.join(repoRoot, 'test', 'e2e', 'golden', 'inputs');
const update = process.env.INTERP_GOLDEN === 'update';
const places: Record<string, string> = {};

/**
 * Headers wrap at 100 columns counting the planted models' and outputs' real paths, so the records hold
 * wrapping decided by those paths' length: they are made in the outer temporary folder, as long as they
 * always were (not the run's own, test/globalSetup.ts), and removed at the end.
 */
const made: string[] = [];
function goldenTemp(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(process.env.INTERP_TESTS_OUTER_TMPDIR ?? os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

beforeAll(() => {
  const root = goldenTemp('interp-golden-');
  places['@additive'] = writePlanted(additiveClassifier(), path.join(root, 'additive'));
  places['@lm'] = writePlanted(inductionLM(), path.join(root, 'lm'));
  places['@biased'] = writePlanted(groupClassifier(true), path.join(root, 'biased'));
  places['@topic'] = writePlanted(topicModel(), path.join(root, 'topic'));
  places['@facts'] = writePlanted(factLM(), path.join(root, 'facts'));
  places['@negation'] = writePlanted(negationClassifier(), path.join(root, 'negation'));
  places['@examples'] = path.join(repoRoot, 'examples');
  places['@distilbert'] = distilbert;
  places['@llama'] = llama;
  places['@shared'] = sharedDir;
  places['@in'] = inputs;
});

async function record(c: GoldenCase): Promise<string> {
  const out = goldenTemp('interp-golden-out-');
  const all = { ...places, '@out': out };
  const fill = (a: string) => a.replace(/@[a-z]+/g, (k) => all[k as keyof typeof all] ?? k);
  // Off a terminal, tables and headers fit 100 columns; $COLUMNS is set so that the caller's never counts.
  // A shared model is named by its path, whose length depends on where the checkout lies: those cases run
  // wide, so that no header wraps at a place the checkout's path decides.
  const sharedPath = c.args.some((a) => /@(distilbert|llama|shared)\b/.test(a));
  const r = await runCli(c.args.map(fill), { COLUMNS: sharedPath ? '240' : '100' });
  // Longest paths first, so that a path inside another is replaced by the more specific name.
  const byLength = Object.entries(all).sort((a, b) => b[1].length - a[1].length);
  const portable = (text: string) => byLength.reduce((t, [k, v]) => t.split(v).join(k), text);
  const stdout = c.volatile
    ? JSON.stringify(JSON.parse(r.stdout), (k, v) => (c.volatile?.includes(k) ? '<volatile>' : v), 2)
    : r.stdout;
  const files = fs
    .readdirSync(out)
    .sort()
    .map(
      (f) =>
        `${f} ${createHash('sha256')
          .update(fs.readFileSync(path.join(out, f)))
          .digest('hex')}`,
    );
  return [
    `# exit ${r.code}`,
    '## stdout',
    portable(stdout),
    '## stderr',
    portable(r.stderr),
    '## files',
    ...files,
    '',
  ].join('\n');
}

describe('golden CLI corpus', () => {
  for (const c of CASES) {
    it.skipIf(c.shared && skipWithoutShared).concurrent(c.name, async () => {
      const actual = await record(c);
      const file = path.join(goldenDir, `${c.name}.txt`);
      if (update) {
        fs.mkdirSync(goldenDir, { recursive: true });
        fs.writeFileSync(file, actual);
        return;
      }
      expect(actual).toBe(fs.readFileSync(file, 'utf8'));
    });
  }
});
