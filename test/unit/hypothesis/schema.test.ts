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
const circuit = (faithfulness: object, fields: object = {}) => ({
  tests: [{ name: 't', pairs: 'pairs.jsonl', 'circuit-faithfulness': faithfulness, ...fields }],
});
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
  ['pairs with a behavioural expectation', { tests: [{ name: 't', pairs: 'pairs.jsonl', label: 'POSITIVE' }] }],
  ['circuit-faithfulness on texts', test({ 'circuit-faithfulness': { 'at-least': 0.8 } })],
  ['pairs beside texts', circuit({ 'at-least': 0.8 }, { texts: ['a b'] })],
  ['circuit-faithfulness without at-least', circuit({ k: 2 })],
  ['a kept share above 1', circuit({ 'at-least': 1.2 })],
  ['a circuit of 0 components', circuit({ 'at-least': 0.8, k: 0 })],
  ['a circuit of too many components', circuit({ 'at-least': 0.8, k: 10_001 })],
  ['a circuit of a fractional size', circuit({ 'at-least': 0.8, k: 2.5 })],
  ['a circuit method that does not patch', circuit({ 'at-least': 0.8, method: 'dla' })],
  ['an unknown ablation', circuit({ 'at-least': 0.8, ablation: 'resample' })],
  ['a misspelt circuit field', circuit({ 'at-least': 0.8, top: 2 })],
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
    for (const doc of [
      circuit({ 'at-least': 0.8 }),
      circuit({ 'at-least': 0.95, k: 2, method: 'atp*', ablation: 'mean' }),
      circuit({ 'at-least': 0, k: 10_000, method: 'patch', ablation: 'zero' }),
    ]) {
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      expect(parses(doc), JSON.stringify(doc)).toBe(true);
    }
  });
});
