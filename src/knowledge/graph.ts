import type { Model } from '../model/types.js';
import { probe, type Instance } from './probe.js';
import type { Relation, RelationSet } from './relations.js';

export interface KnowledgeNode {
  id: string;
  /** The entity types it has been met as (a subject's, or the object type of the edges into it). */
  types: string[];
  /** The round it entered the graph: 0 for the seeds, r + 1 for the objects preferred in round r. */
  round: number;
}

export interface KnowledgeEdge {
  source: string;
  target: string;
  relation: string;
  /** Log-likelihood of the statement over the runner-up candidate's. */
  margin: number;
  logLikelihood: number;
  /** The statement that produced the edge. */
  prompt: string;
  round: number;
}

export interface GrowOptions {
  /** Rounds of expansion after the seeds; null: no crawl, every listed subject is asked. */
  expand: number | null;
  /** An instance becomes an edge only when its margin reaches this. */
  minMargin: number;
  maxNodes: number;
}

export interface Grown {
  instances: Instance[];
  nodes: KnowledgeNode[];
  edges: KnowledgeEdge[];
  /** Probe rounds run. */
  rounds: number;
  /** Edges left out because the graph had reached --max-nodes. */
  capped: number;
}

/**
 * The graph a model holds, grown as LMCRAWL and BertNet grow theirs (Cohen et al. 2023; Hao et al. 2022):
 * ask every relation of the frontier's entities, keep each instance's preferred object as an edge when its
 * margin clears `minMargin`, and let the new objects be the next round's subjects, for the relations whose
 * subject type is their type. Objects come only from the relation file's candidates; nodes stop at `maxNodes`.
 */
export async function growGraph(model: Model, set: RelationSet, o: GrowOptions): Promise<Grown> {
  const nodes = new Map<string, KnowledgeNode>();
  const edges: KnowledgeEdge[] = [];
  const instances: Instance[] = [];
  let capped = 0;
  /** Add the entity or a type of it; true when that is news (so it is to be asked again). */
  const meet = (id: string, type: string, round: number): boolean | null => {
    const node = nodes.get(id);
    if (node) return node.types.includes(type) ? false : (node.types.push(type), true);
    if (nodes.size >= o.maxNodes) return null;
    nodes.set(id, { id, types: [type], round });
    return true;
  };
  const seeds = o.expand === null ? [...new Set(set.relations.flatMap((r) => r.subjects))] : set.seeds;
  let frontier: string[] = [];
  for (const seed of seeds)
    for (const r of set.relations)
      if (r.subjects.includes(seed) && meet(seed, r.subjectType, 0) !== null) frontier.push(seed);
  const asked = new Set<string>();
  let round = 0;
  for (; round <= (o.expand ?? 0) && frontier.length; round++) {
    const asks = [...new Set(frontier)].flatMap((subject) =>
      set.relations
        .filter((r) => askable(r, subject, nodes.get(subject)!) && !asked.has(`${r.name}\u0000${subject}`))
        .map((relation) => (asked.add(`${relation.name}\u0000${subject}`), { relation, subject })),
    );
    const found = asks.length ? await probe(model, asks, round) : [];
    instances.push(...found);
    frontier = [];
    found.forEach((inst, i) => {
      if (inst.margin < o.minMargin) return;
      const news = meet(inst.predicted, asks[i].relation.objectType, round + 1);
      if (news === null) return void capped++;
      if (news) frontier.push(inst.predicted);
      const { relation, subject, predicted: target, margin, prompt } = inst;
      edges.push({
        source: subject,
        target,
        relation,
        margin,
        logLikelihood: inst.ranking[0].logLikelihood,
        prompt,
        round,
      });
    });
  }
  return { instances, nodes: [...nodes.values()], edges, rounds: round, capped };
}

/** A relation is asked of the subjects it lists, and of every node met as its subject type. */
const askable = (r: Relation, subject: string, node: KnowledgeNode) =>
  r.subjects.includes(subject) || node.types.includes(r.subjectType);
