import { runtimeError, usageError } from '../errors.js';
import type { Model } from './model.js';
import { headOutputs } from '../onnx/headOutputs.js';
import { attentionInputs, type AttentionInputs } from '../onnx/attentionInputs.js';
import { readGraph } from '../model/load.js';
import { derivedOnce } from './derived.js';

/**
 * Hook sites, named by the model's structure (found in the graph, not from its node names), as
 * TransformerLens names its hook points. A site's tensor, for one sequence at its own length:
 */
/** The embeddings as the first layer reads them (token + position) // [position, d_model] */
export type EmbedSite = 'embed';
/** The residual stream entering / leaving layer L // [position, d_model] */
export type ResidSite = `layer.${number}.resid.${'pre' | 'post'}`;
/** The feed-forward activation inside layer L (after its nonlinearity) // [position, d_mlp] */
export type MlpSite = `layer.${number}.mlp.act`;
/** One head's output before the heads are merged (probabilities × values) // [position, d_head] */
export type HeadSite = `layer.${number}.attn.head.${number}.out`;
/** Every head's output of layer L before the heads are merged, as the graph holds them // [head, position, d_head] */
export type HeadsSite = `layer.${number}.attn.heads.out`;
/** Layer L's attention probabilities // [head, query, key] */
export type PatternSite = `layer.${number}.attn.pattern`;
/** Layer L's attention scores, the softmax's input (scale · q·k plus masks and positional biases) // [head, query, key] */
export type ScoresSite = `layer.${number}.attn.scores`;
/** Layer L's queries as the scores product reads them (positions encoded) // [head, position, d_head] */
export type QuerySite = `layer.${number}.attn.q`;
/** Layer L's keys as the scores product reads them, transposed (grouped heads repeated) // [head, d_head, key] */
export type KeySite = `layer.${number}.attn.k`;
/** Layer L's values as the probabilities multiply them // [head, key, d_head] */
export type ValueSite = `layer.${number}.attn.v`;
export type AttentionInputSite = ScoresSite | QuerySite | KeySite | ValueSite;
export type Site = EmbedSite | ResidSite | MlpSite | HeadSite | HeadsSite | PatternSite | AttentionInputSite;

export type SiteKind = 'embed' | 'resid' | 'mlp' | 'head' | 'heads' | 'pattern' | 'scores' | 'q' | 'k' | 'v';

/** Axis names of a site's per-sequence tensor, by kind. */
export const SITE_AXES = {
  embed: ['position', 'd_model'],
  resid: ['position', 'd_model'],
  mlp: ['position', 'd_mlp'],
  head: ['position', 'd_head'],
  heads: ['head', 'position', 'd_head'],
  pattern: ['head', 'query', 'key'],
  scores: ['head', 'query', 'key'],
  q: ['head', 'position', 'd_head'],
  k: ['head', 'd_head', 'key'],
  v: ['head', 'key', 'd_head'],
} as const satisfies Record<SiteKind, readonly string[]>;

/** Per kind, the axes of a batch tensor [batch, ...] that run over positions (padded in a batch). */
export const SEQUENCE_AXES: Record<SiteKind, number[]> = {
  embed: [0],
  resid: [0],
  mlp: [0],
  head: [0],
  heads: [1],
  pattern: [1, 2],
  scores: [1, 2],
  q: [1],
  k: [2],
  v: [1],
};

/** Where a site lives in the graph: its tensor and, for a head, which slice of axis 1 of that tensor. */
export interface ResolvedSite {
  site: Site;
  kind: SiteKind;
  layer: number;
  /** The graph tensor: [batch, position, width], or for heads and patterns [batch, head, query, ·]. */
  tensor: string;
  head: number | null;
}

const PATTERN =
  /^(?:embed|layer\.(\d+)\.(?:resid\.(pre|post)|mlp\.act|attn\.pattern|attn\.heads\.out|attn\.head\.(\d+)\.out|attn\.(scores|q|k|v)))$/;

export function kindOf(site: string): SiteKind | null {
  if (!PATTERN.test(site)) return null;
  if (site === 'embed') return 'embed';
  if (site.includes('.resid.')) return 'resid';
  if (site.endsWith('.mlp.act')) return 'mlp';
  if (site.endsWith('.heads.out')) return 'heads';
  const input = PATTERN.exec(site)![4] as 'scores' | 'q' | 'k' | 'v' | undefined;
  if (input) return input;
  return site.endsWith('.pattern') ? 'pattern' : 'head';
}

/** Per layer, the heads' output tensors, found once per graph. */
function headTensors(model: Model, probs: readonly string[]): Promise<string[]> {
  return derivedOnce(model, 'hooks|heads', async () => {
    try {
      return headOutputs(readGraph(model), probs);
    } catch (e) {
      throw runtimeError(`'${model.id}': ${(e as Error).message}`);
    }
  });
}

/** Per layer, the attention's scores, queries, keys and values, found once per graph. */
export function attentionTensors(model: Model): Promise<AttentionInputs[]> {
  return derivedOnce(model, 'hooks|attention-inputs', async () => {
    const { structure } = await model.instrumented();
    const probs = structure.layers.map((s) => s.probs);
    try {
      return attentionInputs(readGraph(model), probs, await headTensors(model, probs));
    } catch (e) {
      throw runtimeError(`'${model.id}': ${(e as Error).message}`);
    }
  });
}

const INPUT_TENSOR = { scores: 'scores', q: 'queries', k: 'keys', v: 'values' } as const;

/** Find a site's tensor in the model's graph; a site the model does not have is a usage error naming it. */
export async function resolveSite(model: Model, site: Site): Promise<ResolvedSite> {
  const kind = kindOf(site);
  if (!kind) throw usageError(`'${site}' is not a hook site (embed, layer.L.resid.pre|post, layer.L.mlp.act, ...)`);
  const { structure } = await model.instrumented();
  const m = PATTERN.exec(site)!;
  const layer = site === 'embed' ? 0 : Number(m[1]);
  const missing = () => usageError(`'${model.id}' has no hook site ${site} (${structure.layers.length} layers)`);
  if (layer >= structure.layers.length) throw missing();
  let tensor: string | null | undefined;
  if (kind === 'embed') tensor = structure.hiddenStates[0];
  else if (kind === 'resid') tensor = structure.hiddenStates[layer + (m[2] === 'post' ? 1 : 0)];
  else if (kind === 'mlp') tensor = structure.mlp[layer];
  else if (kind === 'pattern') tensor = structure.layers[layer].probs;
  else if (kind === 'scores' || kind === 'q' || kind === 'k' || kind === 'v')
    tensor = (await attentionTensors(model))[layer][INPUT_TENSOR[kind]];
  else
    tensor = (
      await headTensors(
        model,
        structure.layers.map((s) => s.probs),
      )
    )[layer]; // a head, or all of them
  if (!tensor) throw missing();
  return { site, kind, layer, tensor, head: kind === 'head' ? Number(m[3]) : null };
}

/** The site of hidden state `l` (0 = the embeddings, l = the residual stream after layer l). */
export function hiddenSite(l: number): EmbedSite | ResidSite {
  return l === 0 ? 'embed' : `layer.${l - 1}.resid.post`;
}
