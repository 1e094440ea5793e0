/** Show whitespace and control characters in token text visibly. */
export function visible(text: string): string {
  if (text.length === 0) return '∅';
  return text
    .replace(/\n/g, '⏎')
    .replace(/\t/g, '⇥')
    .replace(/^ +| +$/g, (m) => '␣'.repeat(m.length));
}
