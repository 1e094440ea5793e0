import type { Model } from '../model/types.js';
import { bootstrap, mean, type Estimate } from '../util/stats.js';
import { growGraph, type GrowOptions, type KnowledgeEdge, type KnowledgeNode } from './graph.js';
import {
  locateEdge,
  summarizeLocations,
  type FactLocation,
  type LocateOptions,
  type RelationLocation,
} from './locate.js';
import type { Instance } from './probe.js';
import { candidatesOf, type RelationSet } from './relations.js';

export const KNOWLEDGE_SCHEMA = 'interp/knowledge@1';

export interface KnowledgeRequest extends GrowOptions {
  /** Trace each edge (--locate), or not. */
  locate: LocateOptions | null;
  /** Seed of the bootstrap intervals (and of the tracing noise). */
  seed: number;
}

export interface RelationSummary {
  name: string;
  template: string;
  subjectType: string;
  objectType: string;
  candidates: number;
  /** Instances asked, and those with a gold answer. */
  instances: number;
  withGold: number;
  /** Share of gold instances whose top-ranked object is right, with a bootstrap 95 % interval. */
  accuracy: Estimate | null;
  /** What guessing scores: the mean over gold instances of 1 / candidates. */
  chance: number | null;
  /** Mean reciprocal rank of the right answer. */
  mrr: number | null;
  edges: number;
  location: RelationLocation | null;
}

export interface KnowledgeReport {
  schema: typeof KNOWLEDGE_SCHEMA;
  model: string;
  relationsFrom: string;
  scoring: 'sentence log-probability' | 'pseudo-log-likelihood';
  expand: number | null;
  minMargin: number;
  maxNodes: number;
  seeds: string[];
  rounds: number;
  /** Edges left out because the graph had reached maxNodes. */
  capped: number;
  relations: RelationSummary[];
  instances: Instance[];
  nodes: KnowledgeNode[];
  edges: (KnowledgeEdge & { location?: FactLocation })[];
  seed: number;
}

/**
 * `interp knowledge`: probe every relation by likelihood ranking, grow the graph of the model's preferred
 * facts, score it against gold, and with `locate` trace where each fact is read out.
 */
export async function knowledgeReport(model: Model, set: RelationSet, r: KnowledgeRequest): Promise<KnowledgeReport> {
  const grown = await growGraph(model, set, r);
  const edges: KnowledgeReport['edges'] = [];
  for (const edge of grown.edges) {
    const relation = set.relations.find((x) => x.name === edge.relation)!;
    edges.push(r.locate ? { ...edge, location: await locateEdge(model, relation, edge, r.locate) } : edge);
  }
  const relations = set.relations.map((rel): RelationSummary => {
    const asked = grown.instances.filter((i) => i.relation === rel.name);
    const graded = asked.filter((i) => i.gold);
    const located = edges.filter((e) => e.relation === rel.name && e.location).map((e) => e.location!);
    return {
      name: rel.name,
      template: rel.template,
      subjectType: rel.subjectType,
      objectType: rel.objectType,
      candidates: rel.objects.length,
      instances: asked.length,
      withGold: graded.length,
      accuracy: graded.length
        ? bootstrap(
            graded.map((i) => (i.correct ? 1 : 0)),
            r.seed,
          )
        : null,
      chance: graded.length ? mean(graded.map((i) => 1 / candidatesOf(rel, i.subject).length)) : null,
      mrr: graded.length ? mean(graded.map((i) => (i.goldRank ? 1 / i.goldRank : 0))) : null,
      edges: edges.filter((e) => e.relation === rel.name).length,
      location: r.locate && located.length ? summarizeLocations(located, r.seed) : null,
    };
  });
  return {
    schema: KNOWLEDGE_SCHEMA,
    model: model.id,
    relationsFrom: set.source,
    scoring: model.task === 'masked-lm' ? 'pseudo-log-likelihood' : 'sentence log-probability',
    expand: r.expand,
    minMargin: r.minMargin,
    maxNodes: r.maxNodes,
    seeds: r.expand === null ? [] : set.seeds,
    rounds: grown.rounds,
    capped: grown.capped,
    relations,
    instances: grown.instances,
    nodes: grown.nodes,
    edges,
    seed: r.seed,
  };
}
