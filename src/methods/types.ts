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

export type BaselineKind = 'mask' | 'unk' | 'pad' | 'delete';
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
}

export interface MethodResult {
  values: number[];
  /** Method-specific facts worth reporting (fit quality, sampling error…). */
  diagnostics?: Record<string, number | string>;
}

export type ParamSpec = { type: 'int' | 'float'; default: number; min?: number; description: string };

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
  /** True for methods that draw random numbers (they honour --seed). */
  sampling: boolean;
  explain(ctx: ExplainContext, params: Record<string, number>): Promise<MethodResult>;
}
