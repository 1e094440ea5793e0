import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/** The SVGs as drawn (issue 30, item 19): labels whole and word pieces marked, heatmaps that fill their canvas. */
type Node = Record<string, unknown>;

const parse = (file: string): Node =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: false }).parse(
    fs.readFileSync(file, 'utf8'),
  ) as Node;

/** Every element of one tag, depth first. */
function all(node: unknown, tag: string, out: Node[] = []): Node[] {
  if (Array.isArray(node)) node.forEach((n) => all(n, tag, out));
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === tag) (Array.isArray(v) ? v : [v]).forEach((x) => out.push(typeof x === 'object' ? x : { '#text': x }));
      all(v, tag, out);
    }
  return out;
}

const textOf = (n: Node) => String(n['#text'] ?? '');

describe('SVG layout', () => {
  const dir = tempDir('interp-svg-layout-');

  it('model view: every token label whole ([CLS], [SEP]) and the pieces of a word marked ("sat" as s ##a ##t)', async () => {
    const file = path.join(dir, 'model-view.svg');
    const r = await runCli(['attention', 'the cat sat on the mat', '--svg', file]);
    expect(r.code, r.stderr).toBe(0);
    const labels = new Set(all(parse(file), 'text').map(textOf));
    for (const label of ['0: [CLS]', '11: [SEP]', '2: cat', '3: s', '4: ##a', '5: ##t', '8: m', '9: ##a', '10: ##t'])
      expect(labels, label).toContain(label);
    expect([...labels].filter((l) => l.endsWith('…'))).toEqual([]);
  }, 60_000);

  it('generation.svg: the heatmap takes a fair share of its canvas, and its title wraps to the heatmap', async () => {
    const file = path.join(dir, 'generation.svg');
    const r = await runCli(['explain', 'the film was', '--model', 'tiny-lm', '--generate', '4', '--svg', file]);
    expect(r.code, r.stderr).toBe(0);
    const svg = parse(file).svg as Node;
    const [W, H] = [Number(svg.width), Number(svg.height)];
    // The plot's frame: the first background path, "M0.5,0.5h{w}v{h}h-{w}Z".
    const frame = all(svg, 'path').find((p) => p.class === 'background')!;
    const [, w, h] = /h([\d.]+)v([\d.]+)/.exec(String(frame.d))!.map(Number);
    // 6 sources × 4 generated tokens: 32-px cells.
    expect([w, h]).toEqual([192, 128]);
    expect(w / W).toBeGreaterThan(0.4);
    expect((w * h) / (W * H)).toBeGreaterThan(0.2);
  }, 60_000);
});
