/** The library's option and result types: the contract of the package's exports (semver). */
import type { attentionJson } from '../render/attention.js';
import type { Attribution } from '../explain.js';
import type { RobustAttribution } from '../robustness/explain.js';
import type { Comparison } from '../comparison.js';
import type { GenerationAttribution } from '../generate.js';
import type { ExploreReport } from '../explore.js';
import type { SamplingReport } from '../sampling.js';

export type { Attribution, AttributedFeature, ExplainRequest } from '../explain.js';
export type { Comparison } from '../comparison.js';
export type { RobustAttribution } from '../robustness/explain.js';
export type { Robustness } from '../robustness/attack.js';
export type { GenerationAttribution } from '../generate.js';
export type { LensResult, LensCell } from '../concepts/lens.js';
export type { PatchReport } from '../patch/patch.js';
export type { ExploreReport } from '../explore.js';
export type { SamplingReport } from '../sampling.js';
export type { CircuitReport } from '../circuit/circuit.js';
export type { FidelityRecord } from '../fidelity/types.js';
export type { Leaderboard, LeaderboardRow } from '../fidelity/leaderboard.js';
export type { CounterfactualReport, Counterfactual } from '../counterfactual/report.js';
export type { ChainReport } from '../chain/chain.js';
export type { PageReport } from '../report/page.js';
export type { Model } from '../model/types.js';

export interface ModelOptions {
  /** ONNX variant: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4 (default fp32). */
  dtype?: string;
  /** onnxruntime intra-op threads, 1 to 1024 (default: all cores). */
  threads?: number;
  /** MB for the activations a gradient batch keeps, 16 to 1048576. */
  maxMemory?: number;
}

/** A method's own parameters and choices (`samples`, `steps`, `kernel`, …), as its `--<param>` flags. */
export interface MethodParams {
  [param: string]: string | number | boolean | undefined;
}

export interface TargetOptions {
  /** Classifier: label name or index; causal LM: next token text or `id:N`. */
  target?: string;
  score?: 'probability' | 'logit' | 'log-odds';
  /** Causal LM: the continuation whose summed log-probability is explained. */
  continuation?: string;
}

export interface MaskingOptions {
  baseline?: string;
  granularity?: string;
}

/** The adversary an explanation meets (`--robustness`). */
export interface RobustnessOptions {
  /** Attack the explanation: word substitutions that keep the prediction and move its top-k words most. */
  robustness?: boolean;
  robustnessK?: number;
  robustnessBudget?: number;
  robustnessMaxEdits?: number;
  robustnessTolerance?: number;
  /** Substitutes for the attack: embedding or mlm (a list:FILE proposer reads a file: CLI only). */
  proposer?: string;
  proposerModel?: string;
}

export interface ExplainOptions extends TargetOptions, MaskingOptions, RobustnessOptions, MethodParams {
  method?: string;
  /** Several methods, comma-separated: a comparison instead of one attribution. */
  compare?: string;
  seed?: number;
  truncate?: boolean;
  /** Causal LM: generate this many tokens greedily, attributing each. */
  generate?: number;
  summary?: boolean;
}

export type ExplainResult = Attribution | RobustAttribution | Comparison | GenerationAttribution;

export interface AttentionOptions {
  /** Views: rollout, flow, norm-based attention, attention × gradient (`target`, `score`). */
  rollout?: boolean;
  flow?: boolean;
  norm?: boolean;
  gradient?: boolean;
  target?: string;
  score?: 'probability' | 'logit' | 'log-odds';
  /** One layer (0-based), and with it one head. */
  layer?: number;
  head?: number;
  sort?: string;
  inductionLength?: number;
  seed?: number;
  format?: 'nested' | 'flat';
  maxTokens?: number;
  truncate?: boolean;
  summary?: boolean;
}

export type AttentionJson = ReturnType<typeof attentionJson>;

export interface LensOptions {
  target?: string;
  top?: number;
}

export interface PatchOptions {
  corrupt?: string;
  corrupted?: string;
  noise?: number;
  samples?: number;
  target?: string;
  score?: 'probability' | 'logit' | 'log-odds';
  heads?: boolean;
  seed?: number;
}

export interface CounterfactualOptions extends MethodParams {
  to?: string;
  delta?: number;
  /** embedding or mlm (a list:FILE proposer reads a file: CLI only). */
  proposer?: string;
  proposerModel?: string;
  fluencyModel?: string;
  method?: string;
  budget?: number;
  beam?: number;
  maxEdits?: number;
  candidates?: number;
  top?: number;
  seed?: number;
  summary?: boolean;
}

export interface ChainOptions {
  generate?: number;
  answer?: string;
  segments?: 'sentence' | 'line';
  samples?: number;
  holdout?: number;
  exactLimit?: number;
  seed?: number;
  truncate?: boolean;
  summary?: boolean;
}

export interface ReportOptions extends TargetOptions, MaskingOptions, MethodParams {
  methods?: string;
  seed?: number;
  generate?: number;
  counterfactualBudget?: number;
  maxTokens?: number;
  truncate?: boolean;
}

/** One example for `fidelity`: its text, and optionally its label, an id, a human rationale or planted word weights. */
export interface FidelityExample {
  text: string;
  label?: string;
  id?: string;
  rationale?: { start: number; end: number; text: string };
  weights?: Record<string, number>;
}

export interface FidelityOptions extends MaskingOptions, RobustnessOptions, MethodParams {
  /** Comma-separated methods (default: occlusion, kernel-shap, integrated-gradients, grad-x-input, attention, random). */
  methods?: string;
  seed?: number;
  score?: 'probability' | 'logit' | 'log-odds';
  stability?: boolean;
  softSamples?: number;
  naopcMaxFeatures?: number;
}

export interface ExploreOptions {
  /** Variants of the base, each run beside it. */
  variant?: readonly string[];
  /** Causal LM: next tokens per variant; with `sample`, the k most likely tokens drawn from (a list). */
  topK?: number | string;
  generate?: number;
  /** Causal LM: continuations drawn per decoding setting (then no variants). */
  sample?: number;
  /** Comma-separated lists with `sample`: every combination is a setting (16 at most). */
  temperature?: number | string;
  topP?: number | string;
  maxTokens?: number;
  seed?: number;
}

export type ExploreResult = ExploreReport | SamplingReport;

export interface CircuitOptions {
  /** A prompt of the same token length where the behaviour fails. */
  corrupted: string;
  /** The clean prompt's next token, and the one the corrupted prompt leads to instead. */
  answer: string;
  wrong: string;
  method?: 'atp' | 'ig' | 'patch';
  ablation?: 'corrupted' | 'mean' | 'zero';
  k?: number;
  exactBudget?: number;
  steps?: number;
}
