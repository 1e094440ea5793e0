import fs from 'node:fs';
import path from 'node:path';

/** A run of lines that stands in two places. */
export interface DuplicateRun {
  first: string;
  second: string;
  lines: string[];
}

/** Commander option declarations repeat by nature (`.option('--json', …)`): they are left out of the check. */
const OPTION_CALL = /\.option\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)/g;
const IMPORT = /^import[\s\S]*?from\s+'[^']+';$|^import\s+'[^']+';$/gm;
/** Lines of brackets and punctuation alone carry no logic, so they neither count nor break a run. */
const TRIVIAL = /^[\])};,({[]*$/;

interface Line {
  text: string;
  at: string;
}

function significantLines(file: string, root: string): Line[] {
  const source = fs.readFileSync(file, 'utf8').replace(IMPORT, (m) => '\n'.repeat(m.split('\n').length - 1));
  const blanked = source.replace(OPTION_CALL, (m) => '\n'.repeat(m.split('\n').length - 1));
  const rel = path.relative(root, file);
  return blanked
    .split('\n')
    .map((raw, i) => ({ text: raw.trim().replace(/\s+/g, ' '), at: `${rel}:${i + 1}` }))
    .filter((l) => l.text && !TRIVIAL.test(l.text) && !/^(\/\/|\/\*|\*)/.test(l.text));
}

/** Every run of `minLines` or more significant lines that appears, identically, in two places of `files`. */
export function findDuplicateRuns(files: string[], root: string, minLines = 6): DuplicateRun[] {
  const seen = new Map<string, string>();
  const runs: DuplicateRun[] = [];
  const reported = new Set<string>();
  for (const file of files) {
    const lines = significantLines(file, root);
    for (let i = 0; i + minLines <= lines.length; i++) {
      const window = lines.slice(i, i + minLines);
      const key = window.map((l) => l.text).join('\n');
      const earlier = seen.get(key);
      if (earlier === undefined) seen.set(key, window[0].at);
      else if (!reported.has(earlier)) {
        runs.push({ first: earlier, second: window[0].at, lines: window.map((l) => l.text) });
        reported.add(earlier);
      }
    }
  }
  return runs;
}

export function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
