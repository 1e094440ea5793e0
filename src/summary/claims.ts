/**
 * Explanations in words that the numbers support. A summary is a list of claims; each names its evidence
 * (JSON pointers into the result it summarises) and, where it says what would happen if the input changed,
 * the forward pass that was run to check it. A claim whose check fails is dropped, never softened: the
 * summary then says less, not something false.
 */

export interface Verification {
  /** What was run: features removed, features kept alone, a rerun under another seed, a rescored text. */
  kind: 'remove' | 'keep-only' | 'reseed' | 'rescore';
  /** Feature indices (into the result's features) removed or kept. */
  features?: number[];
  /** The score before and after, or the value the check measured. */
  before?: number;
  after: number;
  forwardPasses: number;
}

export interface Claim {
  text: string;
  /** JSON pointers (RFC 6901) into the result that back the claim. */
  evidence: string[];
  verification?: Verification;
}

export interface Summary {
  text: string;
  claims: Claim[];
  /** Claims that a verification run contradicted: left out of the text. */
  dropped: { text: string; reason: string }[];
  /** Forward passes run for verification (already included in the result's own count). */
  forwardPasses: number;
}

/** A candidate claim and the test it must pass; `reason` says why it failed. */
export interface Candidate extends Claim {
  holds?: boolean;
  reason?: string;
}

/** A sentence ends with a full stop, unless it already ends on one inside a closing quote. */
const ended = (text: string) => (/[.!?…]["”’)]?$/.test(text) ? text : `${text}.`);

export function summaryOf(candidates: Candidate[]): Summary {
  const kept = candidates.filter((c) => c.holds !== false);
  const dropped = candidates
    .filter((c) => c.holds === false)
    .map((c) => ({ text: c.text, reason: c.reason ?? 'its check did not hold' }));
  const claims = kept.map(({ text, evidence, verification }) => ({
    text: ended(text),
    evidence,
    ...(verification ? { verification } : {}),
  }));
  return {
    text: claims.map((c) => c.text).join(' '),
    claims,
    dropped,
    forwardPasses: candidates.reduce((s, c) => s + (c.verification?.forwardPasses ?? 0), 0),
  };
}

/** "a", "a and b", "a, b and c". */
export function listOf(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A quoted piece of input text, with its spacing made visible where it matters. */
export const quoted = (text: string) => `“${text.trim() === '' ? text : text.trim()}”`;

/** A score as its kind reads best: probabilities with 3 decimals, logits and log-probabilities with 2. */
export function scoreText(value: number, kind: string): string {
  return (kind === 'probability' ? value.toFixed(3) : value.toFixed(2)).replace(/^-/, '−');
}

/** A signed value; small values keep two significant digits instead of rounding to zero. */
export const signedText = (v: number, digits = 3) =>
  `${v >= 0 ? '+' : '−'}${Math.abs(v) >= 10 ** -digits * 10 || v === 0 ? Math.abs(v).toFixed(digits) : Math.abs(v).toPrecision(2)}`;

/** A model id as a reader names it: an embedded name or hub id as given, a folder by its last part. */
export const shortName = (id: string): string =>
  /^[.~/]|^[A-Za-z]:[\\/]/.test(id)
    ? (id
        .replace(/[\\/]+$/, '')
        .split(/[\\/]/)
        .pop() ?? id)
    : id;

export const modelName = (model: { id: string }) => shortName(model.id);

/** The result with its summary, and the summary's verification passes added to the result's own count. */
export function withSummaryOf<R extends object>(result: R, summary: Summary): R & { summary: Summary } {
  const passes = (result as { forwardPasses?: unknown }).forwardPasses;
  const counted = typeof passes === 'number' ? { forwardPasses: passes + summary.forwardPasses } : {};
  return { ...result, ...counted, summary };
}
