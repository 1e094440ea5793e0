import fs from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { factLM, writePlanted } from '../../fixtures/planted.js';
import { expectWellFormedXml, llama, repoRoot, runCli, skipWithoutShared, tempDir } from '../helpers.js';

let facts: string;
let dir: string;
const relations = path.join(repoRoot, 'test', 'e2e', 'golden', 'inputs', 'facts.yaml');
const run = (...args: string[]) => runCli(['knowledge', '--model', facts, '--relations', relations, ...args]);

beforeAll(() => {
  facts = writePlanted(factLM());
  dir = tempDir('interp-knowledge-');
});

describe('interp knowledge on the planted fact LM', () => {
  it('--format graphml and dot print the grown graph; --out writes it and keeps the table; --svg draws it', async () => {
    const graphml = await run('--expand', '2', '--format', 'graphml');
    expect(graphml.code, graphml.stderr).toBe(0);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(graphml.stdout).graphml;
    expect(doc.graph.node).toHaveLength(6);
    expect(doc.graph.edge).toHaveLength(6);
    const dot = await run('--expand', '2', '--format', 'dot');
    expect(dot.stdout.startsWith('digraph "knowledge" {\n')).toBe(true);
    expect(dot.stdout.match(/^ {2}"\w+" -> "\w+" \[.*\];$/gm)).toHaveLength(6);
    expect(dot.stdout).toContain('"lily" -> "tom" ["label"="friend", "relation"="friend", "margin"=9.99');
    const out = path.join(dir, 'g.dot');
    const svg = path.join(dir, 'g.svg');
    const both = await run('--expand', '2', '--out', out, '--svg', svg);
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/6 nodes, 6 edges/);
    expect(fs.readFileSync(out, 'utf8')).toBe(dot.stdout);
    expectWellFormedXml(svg);
    expect(fs.readFileSync(svg, 'utf8')).toContain('lily');
  });

  const bad: [string, string[], RegExp][] = [
    ['no --relations', ['knowledge', '--model', '@facts'], /--relations is required/],
    ['a missing file', ['--relations', 'nowhere.yaml'], /cannot read --relations nowhere.yaml/],
    ['a malformed file', ['--relations', '@bad'], /--relations .*bad.yaml: is not valid YAML/],
    ['a relation without a template', ['--relations', '@untemplated'], /'template' must be a string/],
    ['--expand out of bounds', ['--expand', '11'], /--expand must be an integer from 0 to 10, got '11'/],
    ['--max-nodes 0', ['--max-nodes', '0'], /--max-nodes must be an integer from 1 to 10000/],
    ['a negative --min-margin', ['--min-margin', '-1'], /--min-margin must be a number from 0 to 1000/],
    ['--samples out of bounds', ['--locate', '--samples', '1000'], /--samples must be an integer from 1 to 100/],
    ['an unknown --format', ['--format', 'gexf'], /unknown --format 'gexf'; choose graphml or dot/],
    ['--out of no graph format', ['--out', 'g.txt'], /--out g.txt: name a .graphml or .dot file/],
    ['--format with --json on stdout', ['--format', 'dot', '--json'], /add --out FILE to have --json too/],
  ];
  for (const [what, args, message] of bad)
    it(`refuses ${what}: one line, exit 2`, async () => {
      const bads = path.join(dir, 'bad.yaml');
      fs.writeFileSync(bads, 'relations: [unclosed');
      const untemplated = path.join(dir, 'untemplated.json');
      fs.writeFileSync(
        untemplated,
        JSON.stringify({ relations: [{ name: 'x', subjects: ['a'], objects: ['b', 'c'] }] }),
      );
      const fill = (a: string) => ({ '@facts': facts, '@bad': bads, '@untemplated': untemplated })[a] ?? a;
      const r = args[0] === 'knowledge' ? await runCli(args.map(fill)) : await run(...args.map(fill));
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
});

describe.skipIf(skipWithoutShared)('interp knowledge on the shared TinyStories llama (260k parameters)', () => {
  it('the builtin relations: accuracy against gold with intervals, and chance, measured as they are', async () => {
    const r = await runCli(['knowledge', '--relations', 'builtin', '--model', llama, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    const rows = json.relations.map(
      (x: { name: string; withGold: number; accuracy: { mean: number }; chance: number }) => [
        x.name,
        Math.round(x.accuracy.mean * x.withGold),
        x.withGold,
        Math.round(1 / x.chance),
      ],
    );
    // Measured: right answers of gold instances, and 1 / chance. Colour (3/11) and profession (2/6) are above
    // chance as point estimates, family at it and place below; every interval includes chance.
    expect(rows).toEqual([
      ['family', 1, 6, 6],
      ['colour', 3, 11, 6],
      ['place', 1, 11, 7],
      ['profession', 2, 6, 6],
    ]);
    for (const x of json.relations) {
      expect(x.accuracy.low).toBeLessThanOrEqual(x.chance);
      expect(x.accuracy.low).toBeLessThanOrEqual(x.accuracy.mean);
      expect(x.accuracy.high).toBeGreaterThanOrEqual(x.accuracy.mean);
    }
  });

  it('--expand from the builtin seeds asks the parents the model names where they live; --locate traces each edge', async () => {
    const r = await runCli([
      'knowledge',
      '--relations',
      'builtin',
      '--model',
      llama,
      '--expand',
      '1',
      '--locate',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    const family = json.edges.filter((e: { relation: string }) => e.relation === 'family');
    const parents = new Set(family.map((e: { target: string }) => e.target));
    const placed = json.instances.filter((i: { relation: string; round: number }) => i.relation === 'place');
    expect(new Set(placed.map((i: { subject: string }) => i.subject))).toEqual(parents);
    expect(placed.every((i: { round: number }) => i.round === 1)).toBe(true);
    for (const e of json.edges) expect(e.location.layer).toBeGreaterThanOrEqual(0);
    expect(json.relations[0].location.layers).toBe(6);
  });
});
