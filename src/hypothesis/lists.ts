/**
 * Word lists the built-in perturbations of `interp test` swap between: first names, places, contractions
 * and the keyboard neighbours of typos. Small and plain on purpose; a suite extends a swap list with a
 * file (`list:`), one entry a line.
 */

export const NAMES = [
  'Alice',
  'Bob',
  'Carol',
  'David',
  'Emma',
  'Frank',
  'Grace',
  'Henry',
  'Maria',
  'Omar',
  'Priya',
  'Wei',
  'Aisha',
  'Carlos',
  'Fatima',
  'Hiroshi',
  'Ngozi',
  'Olga',
  'Raj',
  'Sofia',
];

export const LOCATIONS = [
  'London',
  'Paris',
  'Tokyo',
  'Lagos',
  'Mumbai',
  'Chicago',
  'Berlin',
  'Cairo',
  'Lima',
  'Seoul',
  'Toronto',
  'Madrid',
  'Nairobi',
  'Sydney',
  'Boston',
  'Dublin',
];

/** Contracted form → expanded form; the perturbation goes either way, whichever the text allows. */
export const CONTRACTIONS: Record<string, string> = {
  "isn't": 'is not',
  "aren't": 'are not',
  "wasn't": 'was not',
  "weren't": 'were not',
  "don't": 'do not',
  "doesn't": 'does not',
  "didn't": 'did not',
  "can't": 'cannot',
  "won't": 'will not',
  "it's": 'it is',
  "that's": 'that is',
  "i'm": 'i am',
  "you're": 'you are',
  "they're": 'they are',
  "we're": 'we are',
  "i've": 'i have',
  "haven't": 'have not',
  "hasn't": 'has not',
};

/** Auxiliaries after which a simple clause takes "not". */
export const AUXILIARIES = [
  'is',
  'was',
  'are',
  'were',
  'am',
  'will',
  'can',
  'could',
  'would',
  'should',
  'has',
  'have',
  'had',
  'does',
  'did',
  'do',
];

export const NEUTRAL_CLAUSES = ['and that is a fact', 'as I said before', 'to be honest', 'all things considered'];

const ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];

/** The letters next to a letter on a QWERTY keyboard (same row, and the rows above and below). */
export function keyboardNeighbours(c: string): string[] {
  const lower = c.toLowerCase();
  const r = ROWS.findIndex((row) => row.includes(lower));
  if (r < 0) return [];
  const col = ROWS[r].indexOf(lower);
  const out: string[] = [];
  for (let dr = -1; dr <= 1; dr++)
    for (let dc = -1; dc <= 1; dc++) {
      const row = ROWS[r + dr];
      const ch = row?.[col + dc];
      if (ch && ch !== lower) out.push(ch);
    }
  return c === lower ? out : out.map((x) => x.toUpperCase());
}
