import type { Model } from '../model/types.js';
import type { Target } from '../target/target.js';
import type { Encoding } from '../text/encode.js';
import type { Rng } from '../util/rng.js';

/** A unit of attribution: one token, or one word (several tokens). */
export interface Feature {
  index: number;
  text: string;
  /** Token positions in the encoding. */
  positions: number[];
  start: number;
  end: number;
}

/** Token baselines (what replaces a removed feature) and, for gradient methods, embedding baselines ('zero'). */
export type BaselineKind = 'mask' | 'unk' | 'pad' | 'delete' | 'zero';
export type Granularity = 'token' | 'word';

/** A coalition: keep[i] = 1 keeps feature i, 0 replaces it with the baseline. */
export type Coalition = Uint8Array;

export interface ExplainContext {
  model: Model;
  encoding: Encoding;
  target: Target;
  features: Feature[];
  rng: Rng;
  /** Target score of each coalition, run batched. Identical coalitions are run once. */
  score(coalitions: readonly Coalition[]): Promise<Float64Array>;
  /** Score on the full input and with every feature replaced by the baseline. */
  fullScore: number;
  baselineScore: number;
  /** Forward and backward passes over input embeddings; present for gradient methods. */
  gradients?: GradientContext;
}

/** What a gradient method sees: the input in embedding space, its baseline, and a batched gradient oracle. */
export interface GradientContext {
  /** Embeddings [T, width] of the sequence the target runs on (prompt, then any continuation). */
  input: Float32Array;
  /** The same with every feature position replaced by the baseline (zero, or the mask, pad or unk embedding). */
  baseline: Float32Array;
  width: number;
  /** The gradients are those of the model's float shadow graph (its quantized weights dequantized). */
  dequantized: boolean;
  /** Target score and its gradient [T, width] for each row of embeddings, run batched. */
  run(rows: readonly Float32Array[]): Promise<{ score: number; gradient: Float32Array }[]>;
}

export interface MethodResult {
  values: number[];
  /** Score at the method's own baseline, where it is not the token baseline (gradient methods: the embedding baseline). */
  baselineScore?: number;
  /** Method-specific facts worth reporting (fit quality, sampling error…). */
  diagnostics?: Record<string, number | string>;
}

export type ParamSpec = { type: 'int' | 'float'; default: number; min?: number; max?: number; description: string };
export type ChoiceSpec = { values: readonly string[]; default: string; description: string };

export interface AttributionMethod {
  name: string;
  description: string;
  /** Parameters this method reads, with defaults; `--<name>` flags on the CLI. */
  params: Record<string, ParamSpec>;
  /**
   * Forward passes needed for `nFeatures` features, beyond the full-input and baseline scores. Exact for
   * deterministic methods; for sampling methods an upper bound, since a coalition drawn twice runs once.
   */
  cost(nFeatures: number, params: Record<string, number>): number;
  /** Named choices this method reads (`--<name> <value>`), with defaults. */
  choices?: Record<string, ChoiceSpec>;
  /** True for methods that draw random numbers (they honour --seed). */
  sampling: boolean;
  /** True for methods that run forward and backward over input embeddings (baselines: zero, mask, pad, unk). */
  gradient?: boolean;
  explain(ctx: ExplainContext, params: Record<string, number>, choices: Record<string, string>): Promise<MethodResult>;
}
