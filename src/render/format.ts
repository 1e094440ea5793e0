/** Numbers for tables: 4 significant digits, plain notation for the usual range. */
export function formatNumber(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return Number(x.toPrecision(4)).toString();
  return x.toExponential(3);
}

/** A bar of block characters, proportional to |value| / max. */
export function bar(value: number, max: number, width = 20): string {
  if (max <= 0) return '';
  const n = Math.round((Math.abs(value) / max) * width);
  return (value < 0 ? '-' : '+').repeat(Math.min(n, width) ? 1 : 0) + '█'.repeat(n);
}

/** Show whitespace and control characters in token text visibly. */
export function visible(text: string): string {
  if (text.length === 0) return '∅';
  return text
    .replace(/\n/g, '⏎')
    .replace(/\t/g, '⇥')
    .replace(/^ +| +$/g, (m) => '␣'.repeat(m.length));
}
