import path from 'node:path';
import { usageError, usageFault } from '../errors.js';
import { readUserText, textLines } from '../util/files.js';
import { Rng } from '../util/rng.js';

/** One input of a dataset, with an optional gold label and an optional human rationale (character span). */
export interface Example {
  id: string;
  text: string;
  label?: string;
  rationale?: { start: number; end: number; text: string };
  /** Known true importance per word (planted models): lower-cased word → weight. */
  weights?: Record<string, number>;
  /** Encoder-decoder datasets ({"source", "target"} rows): the target forced as the continuation. */
  target?: string;
}

export type DatasetFormat = 'tsv' | 'jsonl' | 'eraser';

export function formatOf(file: string, given?: string): DatasetFormat {
  if (given) {
    if (given === 'tsv' || given === 'jsonl' || given === 'eraser') return given;
    throw usageFault('format', `unknown {param} '${given}'; choose tsv, jsonl or eraser`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.tsv' || ext === '.txt') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'eraser';
  throw usageFault('format', `cannot tell the format of '${file}' from its extension; pass {param} tsv|jsonl|eraser`);
}

/** Find the rationale text in the sentence, ignoring case and runs of spaces. */
function locate(sentence: string, evidence: string): { start: number; end: number; text: string } | undefined {
  const words = evidence
    .trim()
    .split(/\s+/)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!words.length || !words[0]) return undefined;
  const m = new RegExp(words.join('\\s+'), 'i').exec(sentence);
  return m ? { start: m.index, end: m.index + m[0].length, text: m[0] } : undefined;
}

/** A dataset and what was odd about it: each warning counts the rows it concerns. */
export interface Dataset {
  examples: Example[];
  warnings: string[];
}

/** Counts of odd rows by kind, with the first line of each, worded once at the end. */
class Oddities {
  private readonly seen = new Map<string, { count: number; first: number }>();
  note(kind: string, line: number): void {
    const entry = this.seen.get(kind);
    if (entry) entry.count++;
    else this.seen.set(kind, { count: 1, first: line });
  }
  warnings(file: string): string[] {
    return [...this.seen].map(
      ([kind, { count, first }]) => `${file}: ${count} row(s) ${kind} (first at line ${first})`,
    );
  }
}

/**
 * A UTF-8 text file named by the parameter `param` (a dataset by default), through the one decoder every
 * reader shares: a byte-order mark is dropped; UTF-16, binary and unreadable files are usage errors.
 */
export function readText(file: string, param = 'data'): string {
  return readUserText(file, param);
}

function readTsv(file: string, raw: string, odd: Oddities): Example[] {
  const examples: Example[] = [];
  textLines(raw, file).forEach((line, i) => {
    if (!line.trim()) return;
    const cells = line.split('\t');
    const label = cells.length > 1 ? cells[cells.length - 1].trim() : undefined;
    if (examples.length === 0 && label !== undefined && /^(label|sentiment|class|y)$/i.test(label)) return; // header
    const text = cells.length > 1 ? cells.slice(0, -1).join('\t') : cells[0];
    if (!text.trim()) throw usageError(`${file}:${i + 1}: no sentence before the label`);
    if (cells.length > 2) odd.note('have more than two columns: all but the last were taken as the sentence', i + 1);
    if (cells.length === 1) odd.note('have no label column', i + 1);
    examples.push({ id: String(examples.length), text, label });
  });
  return examples;
}

function readJsonl(file: string, raw: string, odd: Oddities): Example[] {
  const examples: Example[] = [];
  textLines(raw, file).forEach((line, i) => {
    if (!line.trim()) return;
    let row: {
      id?: unknown;
      text?: unknown;
      sentence?: unknown;
      source?: unknown;
      target?: unknown;
      label?: unknown;
      weights?: unknown;
    };
    try {
      row = JSON.parse(line);
    } catch {
      throw usageError(`${file}:${i + 1} is not valid JSON`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw usageError(`${file}:${i + 1} is not a JSON object`);
    if (row.text === undefined && typeof row.sentence === 'string')
      odd.note('name their text "sentence" rather than "text"', i + 1);
    const text = row.text ?? row.sentence ?? row.source;
    if (typeof text !== 'string' || !text.trim())
      throw usageError(`${file}:${i + 1} has no "text" (or "source") string`);
    if (row.target !== undefined && (typeof row.target !== 'string' || !row.target.trim()))
      throw usageError(`${file}:${i + 1}: "target" must be a non-empty string`);
    const weights =
      row.weights && typeof row.weights === 'object' ? (row.weights as Record<string, number>) : undefined;
    examples.push({
      id: row.id === undefined ? String(examples.length) : String(row.id),
      text,
      label: row.label === undefined ? undefined : String(row.label),
      weights,
      ...(row.target !== undefined && { target: row.target as string }),
    });
  });
  return examples;
}

function readEraser(file: string, raw: string): Example[] {
  let rows: { idx?: unknown; sentence?: string; label?: unknown; evidence?: { text?: string } | { text?: string }[] }[];
  try {
    rows = JSON.parse(raw);
  } catch {
    throw usageError(`${file} is not valid JSON (expected an ERASER-style list)`);
  }
  if (!Array.isArray(rows)) throw usageError(`${file}: expected a JSON list of {sentence, label, evidence}`);
  return rows.map((row, i) => {
    if (typeof row?.sentence !== 'string' || !row.sentence.trim())
      throw usageError(`${file}: item ${i} has no "sentence"`);
    const evidence = Array.isArray(row.evidence) ? row.evidence[0] : row.evidence;
    return {
      id: row.idx === undefined ? String(i) : String(row.idx),
      text: row.sentence,
      label: row.label === undefined ? undefined : String(row.label),
      rationale: evidence?.text ? locate(row.sentence, evidence.text) : undefined,
    };
  });
}

/** Read a dataset; rows that are odd but usable are counted in `warnings`, rows that are unusable fail with file:line. */
export function readDataset(file: string, format: DatasetFormat): Dataset {
  const raw = readText(file);
  const odd = new Oddities();
  const examples =
    format === 'tsv' ? readTsv(file, raw, odd) : format === 'jsonl' ? readJsonl(file, raw, odd) : readEraser(file, raw);
  if (examples.length === 0) throw usageFault('data', `{param} ${file} holds no examples`);
  return { examples, warnings: odd.warnings(file) };
}

export interface Selection {
  limit?: number;
  sample?: number;
  seed?: number;
  /** [index, count]: keep every example whose position modulo count is index. */
  shard?: [number, number];
}

/** Sampling (seeded), then the first `limit`, then this shard: the same flags always select the same examples. */
export function selectExamples(examples: Example[], s: Selection): Example[] {
  let out = examples;
  if (s.sample !== undefined && s.sample < out.length) {
    const order = new Rng(s.seed ?? 0)
      .permutation(out.length)
      .slice(0, s.sample)
      .sort((a, b) => a - b);
    out = order.map((i) => out[i]);
  }
  if (s.limit !== undefined) out = out.slice(0, s.limit);
  if (s.shard) out = out.filter((_, i) => i % s.shard![1] === s.shard![0]);
  return out;
}

/** A classifier's gold labels must name one of its labels, or give its index: count the rows that do neither. */
export function labelWarnings(file: string, examples: Example[], labels: string[] | null): string[] {
  if (!labels) return [];
  const known = new Set([...labels.map((l) => l.toLowerCase()), ...labels.map((_, i) => String(i))]);
  const unknown = examples.filter((e) => e.label !== undefined && !known.has(e.label.toLowerCase()));
  if (unknown.length === 0) return [];
  const shown = [...new Set(unknown.map((e) => e.label))].slice(0, 3).join(', ');
  return [
    `${file}: ${unknown.length} row(s) have a label the model does not know (${shown}); it has ${labels.join(', ')}`,
  ];
}
