/** The library's option and result types: the contract of the package's exports (semver). */
import type { attentionJson } from '../render/attention.js';
import type { seq2seqAttentionJson } from '../render/seq2seqAttention.js';
import type { Attribution } from '../explain.js';
import type { RobustAttribution } from '../robustness/explain.js';
import type { Comparison } from '../comparison.js';
import type { GenerationAttribution } from '../generate.js';
import type { Seq2SeqAttribution } from '../seq2seq/explain.js';
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
export type { SwapResult } from '../bias/swap.js';
export type { PairsResult } from '../bias/pairs.js';
export type { WeatResult } from '../bias/weat.js';
export type { ClusterReport, FactorsReport } from '../concepts/report.js';
export type { TcavResult } from '../concepts/tcav.js';
export type { TopReport } from '../concepts/top.js';
export type { SurrogateReport } from '../concepts/surrogate.js';
export type { KnowledgeReport } from '../knowledge/report.js';
export type { SteerReport } from '../steer.js';
export type { FidelityRecord } from '../fidelity/types.js';
export type { Leaderboard, LeaderboardRow } from '../fidelity/leaderboard.js';
export type { CounterfactualReport, Counterfactual } from '../counterfactual/report.js';
export type { ChainReport } from '../chain/chain.js';
export type { PageReport } from '../report/page.js';
export type { Model } from '../model/types.js';

export interface ModelOptions {
  /** ONNX variant: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4 (default fp32). */
  dtype?: string;
  /** onnxruntime intra-op threads, 1 to 256 (default: the physical cores, as /proc/cpuinfo counts them). */
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
  /** Encoder-decoder: a foil sequence aligned with the target; each step explains log p(target) − log p(foil). */
  contrast?: string;
  summary?: boolean;
}

export type ExplainResult = Attribution | RobustAttribution | Comparison | GenerationAttribution | Seq2SeqAttribution;

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
  /** Encoder-decoder models (`loadSeq2SeqModel`): which attention (default cross), a forced target or the greedy length. */
  part?: 'encoder' | 'decoder' | 'cross';
  continuation?: string;
  generate?: number;
  /** A reference alignment file (one Pharaoh line): the cross-attention argmax alignment's AER. */
  alignments?: string;
}

export type AttentionJson = ReturnType<typeof attentionJson>;
/** interp/seq2seq-attention@1: `attention` on an encoder-decoder model. */
export type Seq2SeqAttentionJson = ReturnType<typeof seq2seqAttentionJson>;

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
  /** Encoder-decoder models: the attentions the page shows, comma-separated (encoder, decoder, cross). */
  attention?: string;
}

/**
 * One example for `fidelity`: its text, and optionally its label, an id, a human rationale or planted word
 * weights; on an encoder-decoder model, the text is the source and `target` the forced output (default: greedy).
 */
export interface FidelityExample {
  text: string;
  target?: string;
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

/** Options that a bias probe and a concept method share: a seed, and a summary in words where it has one. */
interface Seeded {
  seed?: number;
}

export interface SwapOptions extends Seeded {
  /** The explaining method's own parameters, prefixed: `explainSamples` for `--explain-samples`. */
  [param: string]: string | number | boolean | readonly string[] | undefined;
  /** Templates with a {group} slot; other {slots} take `slot` values (`"job=doctor,nurse"`). */
  template?: readonly string[];
  /** A file of templates, one per line. */
  templates?: string;
  /** Built-in term lists (gender, …) or a JSON file of {"group": ["term", …]}. */
  groups?: string;
  slot?: readonly string[];
  target?: string;
  score?: 'probability' | 'logit' | 'log-odds';
  continuation?: string;
  permutations?: number;
  /** Attribute the gap between two groups (`explainGroups: "a,b"`) with `explainMethod` and its `explain-` parameters. */
  explain?: boolean;
  explainGroups?: string;
  explainMethod?: string;
  summary?: boolean;
}

export interface PairsOptions extends Seeded {
  /** CrowS-Pairs CSV or JSONL of {more, less, type}. */
  data: string;
  limit?: number;
  summary?: boolean;
}

export interface WeatOptions extends Seeded {
  /** SEAT-format JSON: {targ1, targ2, attr1, attr2}. */
  data: string;
  layer?: number;
  permutations?: number;
  summary?: boolean;
}

export interface CorpusOptions extends Seeded {
  /** A corpus: plain lines, TSV (first column) or JSONL ("text"). */
  data: string;
  layer?: number;
  maxTokens?: number;
  top?: number;
}

export interface ClusterOptions extends CorpusOptions {
  /** Clusters, or 'auto' (best silhouette for k = 2…10). */
  k?: number | 'auto';
}

export interface FactorsOptions extends CorpusOptions {
  method?: 'nmf';
  n?: number;
  /** A per-token factor strip for this input. */
  text?: string;
}

export interface TcavOptions extends Seeded {
  /** Files of texts, one per line: the concept, random counterexamples, and the inputs tested. */
  concept: string;
  random: string;
  inputs: string;
  layer?: number;
  target?: string;
  runs?: number;
}

export interface TopOptions extends Seeded {
  data?: string;
  layer?: number;
  site?: 'mlp' | 'hidden';
  neuron?: number;
  /** A direction file (JSON array, {"direction": [...]}, or cluster/factors JSON) and which vector of it. */
  direction?: string;
  index?: number;
  k?: number;
  bins?: number;
  maximize?: boolean;
  steps?: number;
  candidates?: number;
  swaps?: number;
  budget?: number;
  text?: string;
  length?: number;
}

export interface SurrogateOptions extends Seeded {
  /** The training dataset (TSV, JSONL or ERASER JSON), and optionally one to measure on. */
  data: string;
  eval?: string;
  format?: string;
  limit?: number;
  sample?: number;
  strict?: boolean;
  holdout?: number;
  minCount?: number;
  maxFeatures?: number;
  tree?: number;
  method?: string;
  explain?: number;
  top?: number;
}

export interface KnowledgeOptions extends Seeded {
  /** A JSON or YAML relation file, or 'builtin'. */
  relations: string;
  expand?: number;
  minMargin?: number;
  maxNodes?: number;
  locate?: boolean;
  noise?: number;
  samples?: number;
}

export interface SteerOptions {
  /** embed, layer.L.resid.pre|post or layer.L.mlp.act */
  site: string;
  /** A direction file and which vector of it, or two prompt files the direction runs between. */
  direction?: string;
  index?: number;
  from?: string;
  to?: string;
  /** Comma-separated multiples of the direction (0: unsteered). */
  scale?: string;
  generate?: number;
}
