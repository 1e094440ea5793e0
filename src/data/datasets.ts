import fs from 'node:fs';
import path from 'node:path';
import { usageError, usageFault } from '../errors.js';
import { Rng } from '../util/rng.js';

/** One input of a dataset, with an optional gold label and an optional human rationale (character span). */
export interface Example {
  id: string;
  text: string;
  label?: string;
  rationale?: { start: number; end: number; text: string };
  /** Known true importance per word (planted models): lower-cased word → weight. */
  weights?: Record<string, number>;
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

export function readDataset(file: string, format: DatasetFormat): Example[] {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw usageFault('data', `cannot read {param} ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const examples: Example[] = [];
  if (format === 'tsv') {
    const lines = raw.split(/\r?\n/).filter((l) => l.trim());
    lines.forEach((line, i) => {
      const cells = line.split('\t');
      const label = cells.length > 1 ? cells[cells.length - 1].trim() : undefined;
      if (i === 0 && label !== undefined && /^(label|sentiment|class|y)$/i.test(label)) return; // header
      examples.push({
        id: String(examples.length),
        text: cells.length > 1 ? cells.slice(0, -1).join('\t') : cells[0],
        label,
      });
    });
  } else if (format === 'jsonl') {
    raw.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let row: { id?: unknown; text?: unknown; sentence?: unknown; label?: unknown; weights?: unknown };
      try {
        row = JSON.parse(line);
      } catch {
        throw usageError(`${file}:${i + 1} is not valid JSON`);
      }
      const text = row.text ?? row.sentence;
      if (typeof text !== 'string') throw usageError(`${file}:${i + 1} has no "text" string`);
      const weights =
        row.weights && typeof row.weights === 'object' ? (row.weights as Record<string, number>) : undefined;
      examples.push({
        id: row.id === undefined ? String(examples.length) : String(row.id),
        text,
        label: row.label === undefined ? undefined : String(row.label),
        weights,
      });
    });
  } else {
    let rows: {
      idx?: unknown;
      sentence?: string;
      label?: unknown;
      evidence?: { text?: string } | { text?: string }[];
    }[];
    try {
      rows = JSON.parse(raw);
    } catch {
      throw usageError(`${file} is not valid JSON (expected an ERASER-style list)`);
    }
    if (!Array.isArray(rows)) throw usageError(`${file}: expected a JSON list of {sentence, label, evidence}`);
    rows.forEach((row, i) => {
      if (typeof row.sentence !== 'string') throw usageError(`${file}: item ${i} has no "sentence"`);
      const evidence = Array.isArray(row.evidence) ? row.evidence[0] : row.evidence;
      const rationale = evidence?.text ? locate(row.sentence, evidence.text) : undefined;
      examples.push({
        id: row.idx === undefined ? String(i) : String(row.idx),
        text: row.sentence,
        label: row.label === undefined ? undefined : String(row.label),
        rationale,
      });
    });
  }
  if (examples.length === 0) throw usageFault('data', `{param} ${file} holds no examples`);
  return examples;
}

export interface Selection {
  limit?: number;
  sample?: number;
  seed?: number;
  /** [index, count]: keep every example whose position modulo count is index. */
  shard?: [number, number];
}

export function parseShard(raw: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw usageFault('shard', `{param} must be i/n with 0 ≤ i < n, got '${raw}'`);
  return [Number(m[1]), Number(m[2])];
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
