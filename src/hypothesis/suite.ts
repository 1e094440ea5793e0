import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ABLATIONS, type Ablation } from '../circuit/circuit.js';
import { usageError } from '../errors.js';
import { methodNames } from '../methods/config.js';
import { readUserText } from '../util/files.js';

/**
 * A test suite (`interp test SUITE`): YAML or JSON of the shape schemas/test-suite.schema.json publishes.
 * Each test has inputs (texts, templates with slots, or a dataset with a filter) and exactly one
 * expectation. Every error is one line naming the test and the field.
 */

export const EXPECTATIONS = [
  'label',
  'top-token',
  'invariant-under',
  'direction',
  'attribution',
  'rank',
  'counterfactual-flips-on',
  'circuit-faithfulness',
] as const;
export type ExpectationKind = (typeof EXPECTATIONS)[number];

/** A built-in perturbation with its bounds; `list` extends a swap list, `synonyms` names the synonym file. */
export interface PerturbSpec {
  perturb: string;
  /** Perturbed copies per input (1–20, default 1). */
  variants: number;
  /** Edits per copy, for typos (1–5, default 1). */
  edits: number;
  list?: string;
  synonyms?: string;
}

export type Expectation =
  | { kind: 'label'; label: string }
  | { kind: 'top-token'; token: string }
  | { kind: 'invariant-under'; replace?: string; perturbation?: PerturbSpec; tolerance: number | null }
  | { kind: 'direction'; perturbation: PerturbSpec; score: 'up' | 'down'; by: number }
  | { kind: 'attribution'; words: string[]; op: '>=' | '<='; share: number; method: string }
  | { kind: 'rank'; word: string; top: number; method: string }
  | { kind: 'counterfactual-flips-on'; words: string[] }
  | { kind: 'circuit-faithfulness'; atLeast: number; k: number; method: FaithfulnessMethod; ablation: Ablation };

/** The circuit methods a faithfulness test ranks components with (dla decomposes, it does not patch). */
export const FAITHFULNESS_METHODS = ['atp', 'atp*', 'ig', 'patch'] as const;
export type FaithfulnessMethod = (typeof FAITHFULNESS_METHODS)[number];

export interface DataInput {
  file: string;
  format?: string;
  label?: string;
  contains?: string;
  limit: number;
}

export interface TestSpec {
  name: string;
  capability: string;
  texts?: string[];
  templates?: string[];
  slots: Record<string, string[]>;
  data?: DataInput;
  /** A JSONL file of {clean, corrupted, answer, wrong} prompt pairs (circuit-faithfulness only). */
  pairs?: string;
  expect: Expectation;
  target?: string;
  maxFailureRate?: number;
}

export interface Suite {
  name: string;
  file: string;
  target?: string;
  alpha: number;
  tests: TestSpec[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads fields of one object, each error naming where it is. */
class Fields {
  constructor(
    readonly o: Obj,
    readonly where: string,
    allowed: readonly string[],
  ) {
    const extra = Object.keys(o).find((k) => !allowed.includes(k));
    if (extra) this.fail(extra, `is not a field here (expected one of ${allowed.join(', ')})`);
  }
  fail(field: string, message: string): never {
    throw usageError(`${this.where}: '${field}' ${message}`);
  }
  str(field: string, required = false): string | undefined {
    const v = this.o[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(field, 'must be a non-empty string');
    return v;
  }
  num(field: string, low: number, high: number, fallback?: number): number | undefined {
    const v = this.o[field];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < low || v > high)
      this.fail(field, `must be a number in [${low}, ${high}], got ${JSON.stringify(v)}`);
    return v;
  }
  int(field: string, low: number, high: number, fallback?: number): number | undefined {
    const v = this.num(field, low, high, fallback);
    if (v !== undefined && !Number.isInteger(v)) this.fail(field, `must be an integer, got ${v}`);
    return v;
  }
  strings(field: string, required = false, max = 10_000): string[] | undefined {
    const v = this.o[field];
    if (v === undefined && !required) return undefined;
    if (!Array.isArray(v) || v.length === 0 || v.length > max || v.some((s) => typeof s !== 'string' || s === ''))
      this.fail(field, `must be a list of 1 to ${max} non-empty strings`);
    return v as string[];
  }
  obj(field: string): Obj | undefined {
    const v = this.o[field];
    if (v === undefined) return undefined;
    if (!isObj(v)) this.fail(field, 'must be a mapping');
    return v;
  }
}

export const DEFAULT_METHOD = 'occlusion';

const PERTURB_FIELDS = ['perturb', 'variants', 'edits', 'list', 'synonyms'];

/** The perturbation fields of an expectation, read by `p` (which checked the field names). */
function perturbSpec(p: Fields): PerturbSpec {
  return {
    perturb: p.str('perturb', true)!,
    variants: p.int('variants', 1, 20, 1)!,
    edits: p.int('edits', 1, 5, 1)!,
    list: p.str('list'),
    synonyms: p.str('synonyms'),
  };
}

/** circuit-faithfulness: the share of the logit difference each pair's top-k circuit must keep. */
function circuitExpectation(v: Obj, where: string): Expectation {
  const inner: Fields = new Fields(v, where, ['at-least', 'k', 'method', 'ablation']);
  if (v['at-least'] === undefined) inner.fail('at-least', 'is required: the share of the logit difference to keep');
  const oneOf = <T extends string>(field: string, allowed: readonly T[], fallback: T): T => {
    const value = inner.str(field) ?? fallback;
    if (!allowed.includes(value as T)) inner.fail(field, `must be one of ${allowed.join(', ')}, got '${value}'`);
    return value as T;
  };
  return {
    kind: 'circuit-faithfulness',
    atLeast: inner.num('at-least', 0, 1)!,
    k: inner.int('k', 1, 10_000, 6)!,
    method: oneOf('method', FAITHFULNESS_METHODS, 'atp'),
    ablation: oneOf('ablation', ABLATIONS, 'corrupted'),
  };
}

function parseExpectation(f: Fields): Expectation {
  const given = EXPECTATIONS.filter((k) => f.o[k] !== undefined);
  if (given.length !== 1)
    f.fail(given[1] ?? 'expectation', `: a test has exactly one expectation (${EXPECTATIONS.join(', ')})`);
  const kind = given[0];
  const v = f.o[kind];
  if (kind === 'label') return { kind, label: f.str('label', true)! };
  if (kind === 'top-token') return { kind, token: f.str('top-token', true)! };
  if (kind === 'counterfactual-flips-on') return { kind, words: f.strings(kind, true, 50)! };
  if (!isObj(v)) f.fail(kind, 'must be a mapping');
  const where = `${f.where} ${kind}`;
  if (kind === 'circuit-faithfulness') return circuitExpectation(v, where);
  if (kind === 'invariant-under') {
    const inner: Fields = new Fields(v, where, ['replace', ...PERTURB_FIELDS, 'tolerance']);
    const tolerance = inner.num('tolerance', 0, 1e6) ?? null;
    const replace = inner.obj('replace');
    if (replace) {
      const slot = new Fields(replace, `${where} replace`, ['slot']).str('slot', true)!;
      return { kind, replace: slot, tolerance };
    }
    if (v.perturb === undefined) inner.fail('perturb', 'or replace: {slot: NAME} is required');
    return { kind, perturbation: perturbSpec(inner), tolerance };
  }
  if (kind === 'direction') {
    const inner: Fields = new Fields(v, where, [...PERTURB_FIELDS, 'score', 'by']);
    const score = inner.str('score', true);
    if (score !== 'up' && score !== 'down') inner.fail('score', `must be up or down, got '${score}'`);
    return { kind, perturbation: perturbSpec(inner), score, by: inner.num('by', 0, 1e6, 0)! };
  }
  if (kind === 'rank') {
    const inner: Fields = new Fields(v, where, ['word', 'top', 'method']);
    return { kind, word: inner.str('word', true)!, top: inner.int('top', 1, 1000)!, method: methodOf(inner) };
  }
  const inner: Fields = new Fields(v, where, ['words', 'share', 'method']);
  const share = /^\s*(>=|<=)\s*([0-9.]+)\s*$/.exec(String(v.share ?? ''));
  if (!share || !(Number(share[2]) >= 0 && Number(share[2]) <= 1))
    inner.fail('share', `must look like ">= 0.3" or "<= 0.1" with a share in [0, 1], got ${JSON.stringify(v.share)}`);
  return {
    kind: 'attribution',
    words: inner.strings('words', true, 50)!,
    op: share[1] as '>=' | '<=',
    share: Number(share[2]),
    method: methodOf(inner),
  };
}

/** A registered attribution method (plugins' included), occlusion by default. */
function methodOf(f: Fields): string {
  const method = f.str('method') ?? DEFAULT_METHOD;
  if (!methodNames().includes(method)) f.fail('method', `must be one of ${methodNames().join(', ')}, got '${method}'`);
  return method;
}

const TEST_FIELDS = [
  'name',
  'capability',
  'texts',
  'templates',
  'slots',
  'data',
  'pairs',
  'target',
  'max_failure_rate',
  ...EXPECTATIONS,
];

function parseTest(raw: unknown, index: number, lists: Record<string, string[]>): TestSpec {
  const where = `test ${index + 1}${isObj(raw) && typeof raw.name === 'string' ? ` '${raw.name}'` : ''}`;
  if (!isObj(raw)) throw usageError(`${where}: must be a mapping`);
  const f: Fields = new Fields(raw, where, TEST_FIELDS);
  const texts = f.strings('texts');
  const templates = f.strings('templates', false, 1000);
  const data = f.obj('data');
  const pairs = f.str('pairs');
  if ([texts, templates, data, pairs].filter(Boolean).length !== 1)
    f.fail('texts', 'or templates or data or pairs: a test has exactly one kind of input');
  const slotsRaw = f.obj('slots') ?? {};
  const slots: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(slotsRaw)) {
    if (typeof values === 'string' && values.startsWith('@')) {
      const list = lists[values.slice(1)];
      if (!list) f.fail(`slots.${name}`, `names the list '${values}', which the suite does not define`);
      slots[name] = list;
    } else slots[name] = new Fields({ [name]: values }, `${where} slots`, [name]).strings(name, true, 1000)!;
  }
  let dataInput: DataInput | undefined;
  if (data) {
    const d = new Fields(data, `${where} data`, ['file', 'format', 'label', 'contains', 'limit']);
    dataInput = {
      file: d.str('file', true)!,
      format: d.str('format'),
      label: d.str('label'),
      contains: d.str('contains'),
      limit: d.int('limit', 1, 100_000, 1000)!,
    };
  }
  const expect = parseExpectation(f);
  if (pairs && expect.kind !== 'circuit-faithfulness')
    f.fail('pairs', 'are the input of circuit-faithfulness only (prompt pairs, not texts)');
  if (!pairs && expect.kind === 'circuit-faithfulness')
    f.fail('circuit-faithfulness', 'needs pairs: FILE, a JSONL file of {clean, corrupted, answer, wrong}');
  return {
    name: f.str('name', true)!,
    capability: f.str('capability') ?? 'general',
    texts,
    templates,
    slots,
    data: dataInput,
    pairs,
    expect,
    target: f.str('target'),
    maxFailureRate: f.num('max_failure_rate', 0, 1),
  };
}

/** A suite from its parsed document; `file` resolves relative paths and names the suite in errors. */
export function parseSuite(doc: unknown, file: string): Suite {
  if (!isObj(doc)) throw usageError(`${file}: a suite is a mapping with a 'tests' list`);
  const f: Fields = new Fields(doc, file, ['suite', 'target', 'alpha', 'lists', 'tests', '$schema']);
  const lists: Record<string, string[]> = {};
  for (const name of Object.keys(f.obj('lists') ?? {}))
    lists[name] = new Fields(doc.lists as Obj, `${file} lists`, Object.keys(doc.lists as Obj)).strings(name, true)!;
  const tests = doc.tests;
  if (!Array.isArray(tests) || tests.length === 0 || tests.length > 1000)
    f.fail('tests', 'must be a list of 1 to 1000 tests');
  const parsed = tests.map((t, i) => parseTest(t, i, lists));
  const names = parsed.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw usageError(`${file}: two tests are named '${dup}'`);
  return {
    name: f.str('suite') ?? path.basename(file).replace(/\.(tests\.)?(ya?ml|json)$/i, ''),
    file,
    target: f.str('target'),
    alpha: f.num('alpha', 1e-6, 0.5, 0.05)!,
    tests: parsed,
  };
}

/** Read and check a suite file (YAML, or JSON, which YAML reads too). */
export function readSuite(file: string): Suite {
  const text = readUserText(file, 'suite');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw usageError(`${file} is not valid YAML or JSON: ${String((e as Error).message).split('\n')[0]}`);
  }
  return parseSuite(doc, file);
}
