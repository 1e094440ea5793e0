import type { Summary } from '../summary/claims.js';
import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { resolveTarget, type Target, type TargetRequest } from '../target/target.js';
import { encodeText, type Encoding } from '../text/encode.js';
import {
  attentionFlow,
  HEAD_PROPERTIES,
  headRoles,
  inductionScores,
  normWeighted,
  rankHeads,
  rollout,
  runAttention,
  type HeadProperty,
  type AttentionRun,
  type HeadRole,
  type Matrix,
} from './analysis.js';
import { attentionTimesGradient, type AttentionTimesGradient } from './gradient.js';

export const ATTENTION_SCHEMA = 'interp/attention@1';

export interface AttentionRequest {
  text: string;
  layer?: number;
  head?: number;
  rollout?: boolean;
  flow?: boolean;
  norm?: boolean;
  /** Attention × gradient of this target's score. */
  gradient?: boolean;
  target?: TargetRequest;
  sort: string;
  /** Random tokens in the repeated sequence that scores induction heads (0: skip). */
  inductionLength: number;
  seed: number;
  /** Above this many tokens, flow is computed into the focus position only. */
  maxTokens: number;
  truncate?: boolean;
}

export type AttentionKind = 'attention' | 'norm' | 'attention-x-gradient' | 'rollout' | 'flow';

/** Everything `interp attention` shows: per-head matrices [layer][head] of [query, key], or one whole-model matrix. */
export interface AttentionView {
  model: string;
  text: string;
  encoding: Encoding;
  kind: AttentionKind;
  shape: { layers: number; heads: number; tokens: number };
  /** [layer][head] → [query × key], row-major. */
  matrices: Matrix[][];
  layer?: number;
  head?: number;
  /** Rollout or flow through every layer, for the listed query rows. */
  whole?: { kind: 'rollout' | 'flow'; matrix: Float64Array; rows: number[] };
  /** The position whose view matters most: [CLS] for classifiers, the last token for causal LMs. */
  focus: number;
  gradient?: AttentionTimesGradient;
  target?: Target;
  /** Every head, ranked by `sort`. */
  roles: HeadRole[];
  /** With --norm: the same roles measured on the norm-based matrices, each query row taken as shares of its sum. */
  normRoles?: HeadRole[];
  sort: HeadProperty;
  induction: { length: number; seed: number } | null;
  /** With --summary: what the heads do, in words. */
  summary?: Summary;
}

function checkRequest(r: AttentionRequest): HeadProperty {
  if (!HEAD_PROPERTIES.includes(r.sort as HeadProperty))
    throw usageFault('sort', `unknown {param} '${r.sort}'; choose one of ${HEAD_PROPERTIES.join(', ')}`);
  if (r.head !== undefined && r.layer === undefined) throw usageFault('head', '{param} needs {param:layer}');
  if ((r.rollout || r.flow) && (r.layer !== undefined || r.norm))
    throw usageFault(
      'rollout',
      '{param} and {param:flow} span all layers; drop {param:layer}, {param:head} and {param:norm}',
    );
  if (r.rollout && r.flow) throw usageFault('rollout', 'give {param} or {param:flow}, not both');
  if (r.gradient && (r.rollout || r.flow || r.norm))
    throw usageFault('gradient', '{param} weighs raw attention; drop {param:rollout}, {param:flow} and {param:norm}');
  if (!r.gradient && (r.target?.target !== undefined || r.target?.score !== undefined))
    throw usageFault('target', '{param} and {param:score} apply with {param:gradient}');
  return r.sort as HeadProperty;
}

/** Run the instrumented graph once and derive the view the request asks for. */
export async function attentionView(model: Model, request: AttentionRequest): Promise<AttentionView> {
  const sort = checkRequest(request);
  const encoding = encodeText(model, request.text, { truncate: request.truncate });
  const run = await runAttention(model, encoding.ids);
  const [T, L, H] = [run.length, run.layers.length, run.layers[0].length];
  const { layer, head } = request;
  if (layer !== undefined && layer >= L)
    throw usageFault('layer', `{param} ${layer} does not exist; '${model.id}' has layers 0–${L - 1}`);
  if (head !== undefined && head >= H)
    throw usageFault('head', `{param} ${head} does not exist; layer ${layer} has heads 0–${H - 1}`);
  const focus = model.task === 'causal-lm' || !encoding.special[0] ? T - 1 : 0;
  let matrices: Matrix[][] = run.layers;
  if (request.norm) {
    const inst = await model.instrumented();
    matrices = run.layers.map((heads, l) => {
      const projection = inst.outputProjections[l];
      if (!projection)
        throw usageFault(
          'norm',
          `{param}: layer ${l} of '${model.id}' has no plain output-projection weight to measure value vectors with`,
        );
      return normWeighted(heads, run.values[l], projection, T);
    });
  }
  let gradient: AttentionTimesGradient | undefined;
  let target: Target | undefined;
  if (request.gradient) {
    target = await resolveTarget(model, encoding.ids, request.target ?? {}, request.text);
    gradient = await attentionTimesGradient(model, encoding.ids, target);
    matrices = gradient.layers;
  }
  const separators = new Set(
    [model.tokenizer.sep_token_id, model.tokenizer.eos_token_id].filter((x): x is number => typeof x === 'number'),
  );
  const inducing = request.inductionLength > 0 && model.task === 'causal-lm';
  const induction = inducing
    ? await inductionScores(
        model,
        Math.min(request.inductionLength, Math.floor((model.maxLength - 2) / 2)),
        request.seed,
      )
    : null;
  let whole: AttentionView['whole'];
  if (request.rollout)
    whole = { kind: 'rollout', matrix: rollout(run.layers, T), rows: Array.from({ length: T }, (_, i) => i) };
  if (request.flow) {
    const rows = T <= request.maxTokens ? Array.from({ length: T }, (_, i) => i) : [focus];
    whole = { kind: 'flow', matrix: attentionFlow(run.layers, T, rows), rows };
  }
  const kind: AttentionKind = whole?.kind ?? (request.norm ? 'norm' : gradient ? 'attention-x-gradient' : 'attention');
  const rolesOf = (layers: AttentionRun['layers']) =>
    rankHeads(headRoles({ ...run, layers }, encoding, separators, induction), sort);
  const roles = rolesOf(run.layers);
  const normRoles = request.norm ? rolesOf(matrices.map((heads) => heads.map((m) => rowShares(m, T)))) : undefined;
  return {
    model: model.id,
    text: request.text,
    encoding,
    kind,
    shape: { layers: L, heads: H, tokens: T },
    matrices,
    layer,
    head,
    whole,
    focus,
    gradient,
    target,
    roles,
    ...(normRoles ? { normRoles } : {}),
    sort,
    induction: induction ? { length: request.inductionLength, seed: request.seed } : null,
  };
}

/** Each query row as shares of its sum (a row of zeros stays zero). */
function rowShares(m: Matrix, T: number): Float32Array {
  const out = new Float32Array(T * T);
  for (let q = 0; q < T; q++) {
    let sum = 0;
    for (let k = 0; k < T; k++) sum += m[q * T + k];
    if (sum > 0) for (let k = 0; k < T; k++) out[q * T + k] = m[q * T + k] / sum;
  }
  return out;
}
