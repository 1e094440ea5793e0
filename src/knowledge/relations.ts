import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { usageFault } from '../errors.js';
import { readUserText } from '../util/files.js';
import { BUILTIN_RELATIONS } from './builtin.js';

/**
 * A relation file: templates with a subject and an object slot, the subjects to ask about, the candidate
 * objects ranked for each, and gold answers where known (BEAR's format, Wiland et al. 2024, as data).
 * Types say which entities a relation may be asked of when the graph grows (`--expand`): an object of
 * type T becomes a subject of every relation whose subjectType is T. Untyped relations get types of their
 * own ("capital subject", "capital object"), so that they are asked only of the subjects they list.
 */
export interface Relation {
  name: string;
  /** A statement with `{subject}` and `{object}`, each once: "{subject} lives in the {object}." */
  template: string;
  subjectType: string;
  objectType: string;
  subjects: string[];
  /** The candidate objects every instance ranks. */
  objects: string[];
  /** Right answers by subject (one or several each), a subset of the candidates. */
  gold: Record<string, string[]>;
  /** The subject is not among its own candidates ("X's friend is X"). */
  irreflexive: boolean;
}

export interface RelationSet {
  /** Where the relations came from: 'builtin' or the file as given. */
  source: string;
  relations: Relation[];
  /** Where --expand starts; default: every relation's subjects. */
  seeds: string[];
}

const PARAM = 'relations';
const RELATION_KEYS = ['name', 'template', 'subjectType', 'objectType', 'subjects', 'objects', 'gold', 'irreflexive'];
const LIMIT = { relations: 1_000, entities: 10_000 };

const fail = (where: string, message: string) => usageFault(PARAM, `{param} ${where}: ${message}`);

/** The relations of `--relations`: 'builtin', or a JSON or YAML file. */
export function readRelations(spec: string): RelationSet {
  if (spec === 'builtin') return checkRelations(BUILTIN_RELATIONS, 'builtin');
  const raw = readUserText(spec, PARAM);
  const ext = path.extname(spec).toLowerCase();
  let data: unknown;
  try {
    data = ext === '.json' ? JSON.parse(raw) : parseYaml(raw);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw fail(spec, `is not valid ${ext === '.json' ? 'JSON' : 'YAML'} (${why})`);
  }
  return checkRelations(data, spec);
}

function strings(value: unknown, where: string, field: string, min: number): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !v.trim()))
    throw fail(where, `'${field}' must be a list of non-empty strings`);
  const list = value.map((v: string) => v.trim());
  if (new Set(list).size !== list.length) throw fail(where, `'${field}' lists an entry twice`);
  if (list.length < min || list.length > LIMIT.entities)
    throw fail(where, `'${field}' needs ${min} to ${LIMIT.entities} entries, has ${list.length}`);
  return list;
}

function goldOf(value: unknown, where: string, subjects: string[], objects: string[]): Record<string, string[]> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(where, `'gold' must map subjects to an object or a list of objects`);
  const gold: Record<string, string[]> = {};
  for (const [subject, answer] of Object.entries(value)) {
    if (!subjects.includes(subject)) throw fail(where, `gold names '${subject}', which is not among the subjects`);
    const answers = typeof answer === 'string' ? [answer.trim()] : strings(answer, where, `gold.${subject}`, 1);
    const stray = answers.find((a) => !objects.includes(a));
    if (stray !== undefined) throw fail(where, `gold answer '${stray}' for '${subject}' is not among the objects`);
    gold[subject] = answers;
  }
  return gold;
}

function relationOf(value: unknown, i: number): Relation {
  let where = `relation ${i + 1}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(where, 'is not an object');
  const r = value as Record<string, unknown>;
  const stray = Object.keys(r).find((k) => !RELATION_KEYS.includes(k));
  if (stray) throw fail(where, `unknown field '${stray}' (fields: ${RELATION_KEYS.join(', ')})`);
  if (typeof r.name !== 'string' || !r.name.trim()) throw fail(where, "needs a 'name'");
  where = `relation '${r.name}'`;
  const t = r.template;
  const once = (slot: string) => typeof t === 'string' && t.split(slot).length === 2;
  if (!once('{subject}') || !once('{object}'))
    throw fail(where, "'template' must be a string with {subject} and {object}, each once");
  for (const key of ['subjectType', 'objectType'])
    if (r[key] !== undefined && (typeof r[key] !== 'string' || !(r[key] as string).trim()))
      throw fail(where, `'${key}' must be a non-empty string`);
  if (r.irreflexive !== undefined && typeof r.irreflexive !== 'boolean')
    throw fail(where, "'irreflexive' must be true or false");
  const subjects = strings(r.subjects, where, 'subjects', 1);
  const objects = strings(r.objects, where, 'objects', r.irreflexive === true ? 3 : 2);
  return {
    name: r.name.trim(),
    template: t as string,
    subjectType: ((r.subjectType as string | undefined) ?? `${r.name} subject`).trim(),
    objectType: ((r.objectType as string | undefined) ?? `${r.name} object`).trim(),
    subjects,
    objects,
    gold: goldOf(r.gold, where, subjects, objects),
    irreflexive: r.irreflexive === true,
  };
}

/** Check a parsed relation document: every fault is one usage error that says where it is. */
export function checkRelations(data: unknown, source: string): RelationSet {
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { relations?: unknown }).relations))
    throw fail(source, "needs a 'relations' list");
  const doc = data as { relations: unknown[]; seeds?: unknown };
  const stray = Object.keys(doc).find((k) => k !== 'relations' && k !== 'seeds');
  if (stray) throw fail(source, `unknown field '${stray}' (fields: relations, seeds)`);
  if (doc.relations.length < 1 || doc.relations.length > LIMIT.relations)
    throw fail(source, `needs 1 to ${LIMIT.relations} relations, has ${doc.relations.length}`);
  const relations = doc.relations.map(relationOf);
  const names = relations.map((r) => r.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw fail(source, `two relations are named '${twice}'`);
  const seeds =
    doc.seeds === undefined
      ? [...new Set(relations.flatMap((r) => r.subjects))]
      : strings(doc.seeds, source, 'seeds', 1);
  const stranger = seeds.find((s) => !relations.some((r) => r.subjects.includes(s)));
  if (stranger !== undefined) throw fail(source, `seed '${stranger}' is no relation's subject`);
  return { source, relations, seeds };
}

/** Fill a template. */
export const statement = (r: Relation, subject: string, object: string): string =>
  r.template.replace('{subject}', () => subject).replace('{object}', () => object);

/** The candidates an instance ranks: the relation's objects, less the subject itself where irreflexive. */
export const candidatesOf = (r: Relation, subject: string): string[] =>
  r.irreflexive ? r.objects.filter((o) => o !== subject) : r.objects;
