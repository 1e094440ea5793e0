import type { AttentionRun } from '../attention/analysis.js';
import type { CoalitionScore } from '../masking/scorer.js';
import type { Coalition, Feature } from '../masking/types.js';
import type { RuleOverrides } from '../onnx/gradRules.js';
import type { Target } from '../target/target.js';
import type { Encoding } from '../text/encode.js';
import type { Rng } from '../util/rng.js';

export type { BaselineKind, Coalition, Feature } from '../masking/types.js';
export type { Granularity } from '../masking/registry.js';

/**
 * What a method is, as captum's base classes say it: perturbation methods score masked inputs, gradient
 * methods run backward over the input embeddings, attention methods read attention weights, and
 * controls are references for the metrics (random).
 */
export type Family = 'perturbation' | 'gradient' | 'attention' | 'control';

/**
 * How `passes` relates to what a run costs: exactly that many forward passes, or at most that many
 * (sampling methods, whose coalitions drawn twice run once, and budgeted tree methods).
 */
export type CostKind = 'exact' | 'upper-bound';

export interface ExplainContext {
  encoding: Encoding;
  target: Target;
  features: Feature[];
  rng: Rng;
  /** Target score of each coalition, run batched. Identical coalitions are run once. */
  score: CoalitionScore;
  /** Score on the full input. */
  fullScore: number;
  /** Score with every feature replaced by the token baseline (perturbation methods; gradient methods score their own baseline). */
  baselineScore: number;
  /** The position whose prediction is explained: [CLS] for classifiers, the last token for causal LMs. */
  queryPosition: number;
  /** Forward and backward passes over input embeddings; present for gradient methods. */
  gradients?: GradientContext;
  /** Attention weights of the input, one forward pass (attention methods). */
  attentions?: () => Promise<AttentionRun>;
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
  /** Score at the input where the method scores it elsewhere than the model does (gradient methods: on their graph). */
  inputScore?: number;
  /** Method-specific facts worth reporting (fit quality, sampling error…). */
  diagnostics?: Record<string, number | string>;
}

/** A numeric parameter, with the bounds that every front end enforces. */
export type ParamSpec = {
  type: 'int' | 'float';
  default: number;
  min: number;
  max: number;
  description: string;
};
export type ChoiceSpec = { values: readonly string[]; default: string; description: string };

export interface AttributionMethod {
  name: string;
  description: string;
  family: Family;
  cost: CostKind;
  /**
   * What the attributions sum to: `exact` when Σφ = f(x) − f(baseline) by construction (Shapley efficiency, the
   * KernelSHAP constraint), `path` when the gap is reached up to the integration or propagation error the
   * diagnostics report (IG, LRP), absent when the method promises nothing.
   */
  completeness?: 'exact' | 'path';
  /** Parameters this method reads, with defaults and bounds; `--<name>` flags on the CLI. */
  params: Record<string, ParamSpec>;
  /** Named choices this method reads (`--<name> <value>`), with defaults. */
  choices?: Record<string, ChoiceSpec>;
  /** Forward passes needed for `nFeatures` features, beyond the reference scores (see `cost`). */
  passes(nFeatures: number, params: Record<string, number>): number;
  /**
   * Coalitions the method scores whatever the scores turn out to be, known before it runs. explain scores them
   * in the reference scores' batch, one onnxruntime run instead of two (27 rows in 7.3 ms against 2 + 25 rows in
   * 8.5 ms on distilbert-sst2-mini at 24 tokens); the method's own `score` call then finds them known.
   */
  plan?(nFeatures: number, params: Record<string, number>): Coalition[];
  /** True for methods that draw random numbers (they honour --seed). */
  sampling: boolean;
  /** Gradient methods: backward-rule overrides for these parameters (LRP's constant normalisations), by operator. */
  rules?(params: Record<string, number>): RuleOverrides;
  explain(ctx: ExplainContext, params: Record<string, number>, choices: Record<string, string>): Promise<MethodResult>;
}
