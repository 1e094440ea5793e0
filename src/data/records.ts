import fs from 'node:fs';
import { InterpError, usageFault } from '../errors.js';
import { fsReason, noteOutput, prepareAppend, readResultLines } from '../util/files.js';

export interface RecordFile<T> {
  records: T[];
  /** Lines that are not records, by line number: skipped, and worth a warning. */
  corrupt: number[];
}

/**
 * The records of a JSONL results file (lines of one schema), as `fidelity --out` and `counterfactual --out` write them.
 * A last line cut short (a run killed mid-write) is dropped, and with `repair` cut off the file so that appending
 * resumes cleanly. When resuming, a last line without its newline is cut short too, however whole it looks, or the
 * next record would be glued onto it; only a line that begins as one of ours is ever cut off, and a file that ends
 * in a line of someone else's without a newline is refused. A bad line elsewhere is skipped and reported.
 */
export function readRecords<T>(file: string, schema: string, repair = false): RecordFile<T> {
  const lines = readResultLines(file);
  const records: T[] = [];
  const corrupt: number[] = [];
  let lastText = lines.length - 1;
  while (lastText >= 0 && !lines[lastText].text.trim()) lastText--;
  const opening = JSON.stringify({ schema }).slice(0, -1);
  const ours = (text: string) => text.startsWith(opening) || opening.startsWith(text);
  lines.forEach((line, i) => {
    if (!line.text.trim()) return;
    const last = i === lastText;
    const record = repair && last && !line.ended ? null : parseRecord<T>(line.text, schema);
    if (record) return void records.push(record);
    // The last line can only be a record cut short; a bad line before it is damage, worth saying.
    if (!last || (repair && line.ended && !ours(line.text))) corrupt.push(i + 1);
    else if (repair && ours(line.text)) fs.truncateSync(file, line.start);
    else if (repair)
      throw usageFault('out', `{param} ${file} ends in a line that is no interp record; choose another file`);
  });
  return { records, corrupt };
}

function parseRecord<T>(line: string, schema: string): T | null {
  try {
    const r = JSON.parse(line);
    return r?.schema === schema ? (r as T) : null;
  } catch {
    return null;
  }
}

/**
 * Make `file` ready for appending before any work is done: its folder exists and it can be written.
 * Returns a release function for the lock that keeps a second run from appending the same records
 * (a device or a pipe takes no lock: nothing is resumed from it).
 */
export function openForAppend(file: string): () => void {
  let regular: boolean;
  try {
    regular = prepareAppend(file);
  } catch (e) {
    if (e instanceof InterpError) throw e;
    throw usageFault('out', `cannot write {param} ${file}: ${fsReason(e)}`);
  }
  if (!regular) return () => {};
  const forget = noteOutput(file, 'out');
  const unlock = lockFile(file);
  return () => {
    unlock();
    forget();
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** An exclusive lock beside `file` (`file.lock`, holding the pid); a lock left by a dead process is taken over. */
function lockFile(file: string): () => void {
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      // Released when the run ends, or at exit if it never does, or on Ctrl-C or SIGTERM (then the signal
      // is raised again, to end the process as it would have); the hooks go with the lock.
      const atExit = () => fs.rmSync(lock, { force: true });
      const onSignal = (signal: NodeJS.Signals) => {
        atExit();
        process.kill(process.pid, signal);
      };
      process.once('exit', atExit).once('SIGINT', onSignal).once('SIGTERM', onSignal);
      return () => {
        process.off('exit', atExit).off('SIGINT', onSignal).off('SIGTERM', onSignal);
        atExit();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(lock, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && alive(holder))
        throw usageFault(
          'out',
          `another interp run (pid ${holder}) is writing {param} ${file}; wait for it or choose another file`,
        );
      fs.rmSync(lock, { force: true });
    }
  }
  throw usageFault('out', `cannot lock {param} ${file}`);
}

export function corruptWarnings(file: string | undefined, corrupt: number[]): string[] {
  if (!file || corrupt.length === 0) return [];
  return [`${file}: ${corrupt.length} line(s) are not results and were skipped (first at line ${corrupt[0]})`];
}
