import type { Model } from '../model/types.js';
import type { HeadScore } from '../onnx/scoreHead.js';
import type { LogitsAt } from '../runtime/positions.js';

export type ScoreKind = 'probability' | 'logit' | 'log-odds';
export const SCORE_KINDS: readonly ScoreKind[] = ['probability', 'logit', 'log-odds'];

/** What one number per variant measures: a kind's record (target/registry.ts) reads its own fields. */
export interface Target {
  readonly kind: string;
  readonly name: string;
  readonly [field: string]: unknown;
}

export interface TargetDescriptor {
  kind: string;
  name: string;
  score: string;
  tokenIds?: number[];
}

export interface TargetRequest {
  /** A registered target kind by name; without it, the model's task picks a built-in one. */
  kind?: string;
  /** Label name or index (classifier), or next token text (causal LM). */
  target?: string;
  score?: string;
  continuation?: string;
  reduce?: 'sum' | 'mean';
}

export interface ResolveContext {
  model: Model;
  ids: readonly number[];
  request: TargetRequest;
  promptText: string;
  /** The model's logits on `ids` (class logits, or the next token's), run at most once. */
  logitsOf: () => Promise<Float32Array>;
}

/** What a target makes the model read: the positions whose logits are scored (none for a classifier), and tokens appended to the prompt. */
export interface TargetReads {
  positions: number[];
  extra: number[];
}

/**
 * One target kind, everything about it in one record: adding a kind is one file and one line in
 * target/registry.ts (or one registerTarget call). The CPU score and the graph head are two
 * independent statements of one formula; test/unit/target/targets.test.ts checks they agree.
 */
export interface TargetKind<T extends Target = Target> {
  kind: string;
  /** The target for a request, or undefined when this kind does not apply to it (another kind is tried). */
  resolve(ctx: ResolveContext): Promise<T | undefined>;
  reads(target: T, promptLength: number): TargetReads;
  /** The score on the CPU from the logits the model read: at(k) is the k-th read position's row (a classifier's class row at 0). */
  score(target: T, at: LogitsAt): number;
  /** The in-graph score head: score = Σ_k weight[k] · s(logits[k])[index[k]], s chosen by `score`. */
  head(target: T): { index: number[]; weight: number[]; score: HeadScore };
  describe(target: T): TargetDescriptor;
  /** What a summary says: the score's name ("the probability of POSITIVE"), and the prediction sentence. */
  summary: {
    score(d: TargetDescriptor): string;
    prediction(d: TargetDescriptor, model: string, value: string): string;
  };
  /** A model (embedded id or folder), text and request that `interp check-method` scores both ways (plugins). */
  example?: { model: string; text: string; request: TargetRequest };
}
