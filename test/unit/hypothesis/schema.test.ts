import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseSuite } from '../../../src/hypothesis/suite.js';
import { repoRoot } from '../../helpers.js';

// The published schema and the parser must agree: every suite one accepts the other accepts.
const schema = JSON.parse(fs.readFileSync(path.join(repoRoot, 'schemas', 'test-suite.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(schema);
const parses = (doc: unknown) => {
  try {
    parseSuite(doc, 'suite.yaml');
    return true;
  } catch {
    return false;
  }
};

const suites = [
  path.join(repoRoot, 'examples', 'sentiment.tests.yaml'),
  path.join(repoRoot, 'test', 'unit', 'hypothesis', 'planted.tests.yaml'),
];

const test = (fields: object) => ({ tests: [{ name: 't', texts: ['a good film'], ...fields }] });
const broken: [string, unknown][] = [
  ['no tests', { suite: 's' }],
  ['an unknown top-level field', { ...test({ label: 'POSITIVE' }), extra: 1 }],
  ['no expectation', test({})],
  ['two expectations', test({ label: 'POSITIVE', 'top-token': ' a' })],
  ['two kinds of input', test({ label: 'POSITIVE', templates: ['{x}'] })],
  ['a misspelt field', test({ lable: 'POSITIVE' })],
  ['a failure rate above 1', test({ label: 'POSITIVE', max_failure_rate: 1.5 })],
  ['a direction without a score', test({ direction: { perturb: 'negation' } })],
  ['a direction scored sideways', test({ direction: { perturb: 'negation', score: 'left' } })],
  ['a share that is not a comparison', test({ attribution: { words: ['not'], share: '0.3' } })],
  ['a share above 1', test({ attribution: { words: ['not'], share: '>= 1.5' } })],
  ['an invariance with neither replace nor perturb', test({ 'invariant-under': { tolerance: 0.1 } })],
  ['too many typo edits', test({ 'invariant-under': { perturb: 'typo', edits: 6 } })],
  ['a rank of 0', test({ rank: { word: 'not', top: 0 } })],
  ['data without a file', { tests: [{ name: 't', data: { limit: 5 }, label: 'POSITIVE' }] }],
  ['an empty text', { tests: [{ name: 't', texts: [''], label: 'POSITIVE' }] }],
];

describe('schemas/test-suite.schema.json', () => {
  it.each(suites)('accepts %s, as the parser does', (file) => {
    const doc = parseYaml(fs.readFileSync(file, 'utf8'));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(parses(doc)).toBe(true);
  });

  it.each(broken)('refuses %s, as the parser does', (_what, doc) => {
    expect(validate(doc)).toBe(false);
    expect(parses(doc)).toBe(false);
  });

  it('accepts every expectation kind the parser knows, one at a time', () => {
    const kinds: object[] = [
      { label: 'POSITIVE' },
      { 'top-token': ' there' },
      { 'invariant-under': { replace: { slot: 'name' }, tolerance: 0.1 } },
      { 'invariant-under': { perturb: 'typo', variants: 3, edits: 2 } },
      { direction: { perturb: 'negation', score: 'down', by: 0.1 } },
      { attribution: { words: ['not', 'never'], share: '>= 0.3', method: 'occlusion' } },
      { rank: { word: 'not', top: 3 } },
      { 'counterfactual-flips-on': ['not'] },
    ];
    for (const k of kinds) {
      expect(validate(test(k)), JSON.stringify(k)).toBe(true);
      expect(parses(test(k)), JSON.stringify(k)).toBe(true);
    }
  });
});
