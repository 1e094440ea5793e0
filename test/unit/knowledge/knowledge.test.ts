import fs from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { factLM, PLANTED_FACTS, writePlanted } from '../../../fixtures/planted.js';
import { checkRelations, readRelations, type RelationSet } from '../../../src/knowledge/relations.js';
import { knowledgeReport, type KnowledgeRequest } from '../../../src/knowledge/report.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { toDot, toGraphml } from '../../../src/render/graph.js';
import { knowledgeGraph } from '../../../src/render/knowledge.js';
import { repoRoot, tempDir } from '../../helpers.js';

/**
 * The planted fact LM (fixtures/planted.ts) holds PLANTED_FACTS by construction: after "subject relation-word"
 * the planted object has logit 10 and every other token 0, and nothing else in a statement depends on the
 * object. So each statement's log-likelihood margin over the runner-up is exactly the planted logit gap
 * (10; 1 for Ben's colour, red 10 over green 9), and the preferred objects are exactly the fact table.
 */
let model: Model;
let set: RelationSet;
const request: KnowledgeRequest = { expand: null, minMargin: 0, maxNodes: 200, locate: null, seed: 0 };
const relationWord: Record<string, string> = { likes: 'friend', wears: 'colour' };
// The table's first answer for each (subject, relation): Ben's green (9) is the runner-up, not a fact.
const planted = PLANTED_FACTS.filter(([s, w], i) => PLANTED_FACTS.findIndex(([s2, w2]) => s2 === s && w2 === w) === i);
const triple = (e: { source: string; relation: string; target: string }) => `${e.source} -${e.relation}-> ${e.target}`;

beforeAll(async () => {
  model = await loadModel(writePlanted(factLM()));
  set = readRelations(path.join(repoRoot, 'test', 'e2e', 'golden', 'inputs', 'facts.yaml'));
});

describe('interp knowledge on the planted fact LM', () => {
  it('ranks by likelihood: every listed instance gives back the planted fact, with the planted margin', async () => {
    const r = await knowledgeReport(model, set, request);
    expect(r.edges.map(triple).sort()).toEqual(planted.map(([s, w, o]) => `${s} -${relationWord[w]}-> ${o}`).sort());
    for (const e of r.edges) expect(e.margin).toBeCloseTo(e.source === 'ben' && e.relation === 'colour' ? 1 : 10, 6);
    expect(r.edges.find((e) => e.source === 'lily' && e.relation === 'friend')!.prompt).toBe('lily likes tom.');
    expect(r.nodes.map((n) => n.id)).toEqual(['lily', 'tom', 'sam', 'ben', 'red', 'blue', 'green']);
    // Friend: 4 of 4 right (irreflexive: 3 candidates each); colour: Ben's gold is green, the model says red.
    const [friend, colour] = r.relations;
    expect(friend).toMatchObject({ instances: 4, withGold: 4, accuracy: { mean: 1, low: 1, high: 1, n: 4 } });
    expect(friend.chance).toBeCloseTo(1 / 3, 12);
    expect(colour.accuracy!.mean).toBe(0.75);
    expect(colour.accuracy!.low).toBeLessThan(0.75);
    expect(colour.mrr).toBe((1 + 1 + 1 + 0.5) / 4);
    const ben = r.instances.find((i) => i.subject === 'ben' && i.relation === 'colour')!;
    expect(ben).toMatchObject({ predicted: 'red', correct: false, goldRank: 2 });
    expect(ben.ranking.map((x) => x.object)).toEqual(['red', 'green', 'blue']);
  });

  it('--expand grows from the seed exactly along the planted facts, objects of a type its relations ask', async () => {
    const r = await knowledgeReport(model, set, { ...request, expand: 2 });
    // lily → tom, red; tom → sam, blue; sam → lily (already a node), green. Colours are asked nothing; Ben is never reached.
    expect(r.nodes.map((n) => [n.id, n.round])).toEqual([
      ['lily', 0],
      ['tom', 1],
      ['red', 1],
      ['sam', 2],
      ['blue', 2],
      ['green', 3],
    ]);
    expect(r.edges.map((e) => `${triple(e)} @${e.round}`)).toEqual([
      'lily -friend-> tom @0',
      'lily -colour-> red @0',
      'tom -friend-> sam @1',
      'tom -colour-> blue @1',
      'sam -friend-> lily @2',
      'sam -colour-> green @2',
    ]);
    expect(r.nodes.find((n) => n.id === 'lily')!.types).toEqual(['person']);
    // One round less stops before sam's facts; more rounds find nothing new.
    const one = await knowledgeReport(model, set, { ...request, expand: 1 });
    expect(one.edges.map(triple)).toEqual(r.edges.slice(0, 4).map(triple));
    expect((await knowledgeReport(model, set, { ...request, expand: 5 })).edges.map(triple)).toEqual(
      r.edges.map(triple),
    );
  });

  it('--min-margin drops the close call, --max-nodes caps the graph and counts what it left out', async () => {
    const sure = await knowledgeReport(model, set, { ...request, minMargin: 2 });
    expect(sure.edges.map(triple)).not.toContain('ben -colour-> red');
    expect(sure.edges).toHaveLength(7);
    expect(sure.relations[1].accuracy!.mean).toBe(0.75); // accuracy ranks every instance, confident or not
    const small = await knowledgeReport(model, set, { ...request, expand: 2, maxNodes: 3 });
    expect(small.nodes.map((n) => n.id)).toEqual(['lily', 'tom', 'red']);
    expect(small.edges.map(triple)).toEqual(['lily -friend-> tom', 'lily -colour-> red']);
    expect(small.capped).toBe(2);
  });

  it('--locate traces each edge with patch: restoring the clean subject recovers the planted fact', async () => {
    const r = await knowledgeReport(model, set, { ...request, expand: 0, locate: { noise: 10, samples: 2, seed: 0 } });
    expect(r.edges).toHaveLength(2);
    for (const e of r.edges) {
      const l = e.location!;
      expect(l.prompt).toBe(e.source === 'lily' && e.relation === 'friend' ? 'lily likes' : 'lily wears');
      expect(l.target).toBe(e.target);
      expect(l.cleanScore - l.corruptedScore).toBeGreaterThan(3);
      // Embeddings, the subject's position (1, after <s>): ties with the relation word after layer 0 are broken by order.
      expect(l).toMatchObject({ layer: 0, position: 1, token: 'lily', atSubject: true, atLastToken: false, layers: 3 });
      expect(l.recovered).toBeCloseTo(1, 6);
    }
    expect(r.relations[0].location).toMatchObject({ facts: 1, layers: 3, atSubject: 1, layer: { mean: 0 } });
  });
});

describe('the graph as GraphML and DOT', () => {
  it('GraphML is well-formed, with every node and edge and typed keys', async () => {
    const r = await knowledgeReport(model, set, { ...request, expand: 2 });
    const xml = toGraphml(knowledgeGraph(r));
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml).graphml;
    expect(doc.graph.edgedefault).toBe('directed');
    expect(doc.graph.node).toHaveLength(6);
    expect(doc.graph.edge).toHaveLength(6);
    const keys = Object.fromEntries(doc.key.map((k: Record<string, string>) => [k.id, k['attr.type']]));
    expect(keys).toMatchObject({
      node_label: 'string',
      node_round: 'int',
      edge_margin: 'double',
      edge_prompt: 'string',
    });
    const ids = new Set(doc.graph.node.map((n: { id: string }) => n.id));
    for (const e of doc.graph.edge) expect(ids.has(e.source) && ids.has(e.target)).toBe(true);
  });

  it('DOT is one digraph with a statement per node and edge, quotes escaped', () => {
    const dot = toDot({
      name: 'g',
      nodes: [
        { id: 'say "hi"', attributes: { round: 0 } },
        { id: 'b\\c', attributes: { round: 1 } },
      ],
      edges: [{ source: 'say "hi"', target: 'b\\c', attributes: { label: 'x', margin: 1.5 } }],
    });
    expect(dot).toBe(
      'digraph "g" {\n  "say \\"hi\\"" ["round"=0];\n  "b\\\\c" ["round"=1];\n  "say \\"hi\\"" -> "b\\\\c" ["label"="x", "margin"=1.5];\n}\n',
    );
  });
});

describe('relation files', () => {
  const good = () =>
    JSON.parse(JSON.stringify({ relations: [set.relations[1]].map(({ gold, ...r }) => ({ ...r, gold })) }));
  const faults: [string, (d: ReturnType<typeof good>) => void, RegExp][] = [
    ['no object slot', (d) => (d.relations[0].template = '{subject} wears'), /\{subject\} and \{object\}, each once/],
    [
      'a gold answer not among the objects',
      (d) => (d.relations[0].gold.lily = 'pink'),
      /'pink' for 'lily' is not among/,
    ],
    ['an unknown field', (d) => (d.relations[0].colour = 1), /unknown field 'colour'/],
    ['one candidate', (d) => (d.relations[0].objects = ['red']), /'objects' needs 2 to/],
    ['a seed that is no subject', (d) => (d.seeds = ['zed']), /seed 'zed' is no relation's subject/],
    ['no relations', (d) => (d.relations = []), /needs 1 to 1000 relations/],
  ];
  for (const [what, spoil, message] of faults)
    it(`refuses ${what}`, () => {
      const d = good();
      expect(() => checkRelations(d, 'x')).not.toThrow();
      spoil(d);
      expect(() => checkRelations(d, 'x')).toThrow(message);
    });

  it('reads YAML and JSON alike, refuses what parses as neither, and ships a builtin set', () => {
    const dir = tempDir('interp-relations-');
    const json = path.join(dir, 'r.json');
    fs.writeFileSync(json, JSON.stringify({ relations: set.relations, seeds: set.seeds }));
    expect(readRelations(json).relations).toEqual(set.relations);
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'relations: [unclosed');
    expect(() => readRelations(path.join(dir, 'bad.yaml'))).toThrow(/is not valid YAML/);
    expect(() => readRelations(path.join(dir, 'none.yaml'))).toThrow(/cannot read/);
    expect(readRelations('builtin').relations.map((r) => r.name)).toEqual(['family', 'colour', 'place', 'profession']);
  });
});
