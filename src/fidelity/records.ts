import fs from 'node:fs';
import { RECORD_SCHEMA, type FidelityRecord } from './types.js';

/** Complete JSONL records of a results file; a partial last line (a run killed mid-write) is dropped and cut off. */
export function readRecords(file: string, repair = false): FidelityRecord[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const records: FidelityRecord[] = [];
  let goodEnd = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const end = offset + Buffer.byteLength(line) + 1;
    if (line.trim()) {
      try {
        const r = JSON.parse(line);
        if (r.schema === RECORD_SCHEMA) {
          records.push(r);
          goodEnd = Math.min(end, Buffer.byteLength(text));
        }
      } catch {
        break;
      }
    } else goodEnd = Math.min(end, Buffer.byteLength(text));
    offset = end;
  }
  if (repair && goodEnd < Buffer.byteLength(text)) fs.truncateSync(file, goodEnd);
  return records;
}
