import { describe, expect, it } from 'vitest';
import { wrapText } from '../../../src/render/format.js';

describe('wrapText', () => {
  const header =
    "occlusion on sst2-tiny · target label 'POSITIVE' (probability) · full 0.9973 · baseline 0.6845 · 11 forward passes";

  it('breaks between the · parts, so that a count stays with its noun', () => {
    const lines = wrapText(header, 100).split('\n');
    expect(lines).toEqual([
      "occlusion on sst2-tiny · target label 'POSITIVE' (probability) · full 0.9973 · baseline 0.6845",
      '11 forward passes',
    ]);
    expect(lines.every((l) => l.length <= 100)).toBe(true);
  });

  it('keeps a line that fits whole', () => {
    expect(wrapText(header, 200)).toBe(header);
  });

  it('breaks a part wider than the line at its spaces, and every line fits', () => {
    const lines = wrapText(header, 30).split('\n');
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines.join(' ').replace(/ · /g, ' ')).toBe(header.replace(/ · /g, ' '));
  });
});
