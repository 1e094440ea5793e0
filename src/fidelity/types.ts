import type { Plausibility, Faithfulness } from '../metrics/faithfulness.js';
import type { BaselineKind, Granularity } from '../methods/types.js';
import type { AttackSettings, Robustness } from '../robustness/attack.js';

export const RECORD_SCHEMA = 'interp/fidelity-record@1';

/** The methods fidelity compares when none are named. */
export const DEFAULT_FIDELITY_METHODS = 'occlusion,kernel-shap,integrated-gradients,grad-x-input,attention,random';

export interface FidelityConfig {
  methods: string[];
  params: Record<string, number>;
  choices: Record<string, string>;
  baseline?: BaselineKind;
  granularity: Granularity;
  /** Classifier score the metrics read: probability (default, as ERASER), logit or log-odds. */
  score?: string;
  seed: number;
  softSamples: number;
  maxNormalise: number;
  stability: boolean;
  /** With --robustness: the adversary each explanation meets (src/robustness/attack.ts). */
  robustness?: AttackSettings;
}

/** One line of --out: one example explained by one method, and every metric on it. */
export interface FidelityRecord {
  schema: typeof RECORD_SCHEMA;
  key: string;
  model: string;
  example: string;
  method: string;
  params: Record<string, number | string>;
  seed: number;
  label: string | null;
  predicted: string;
  features: number;
  fullScore: number;
  baselineScore: number;
  forwardPasses: number;
  faithfulness: Omit<Faithfulness, 'deletion' | 'insertion'>;
  curves: { deletion: number[]; insertion: number[] };
  plausibility: Plausibility | null;
  /** Top-k precision against known weights (k = the features with a non-zero weight), when the example carries them. */
  recovery: number | null;
  stability: { inputEdit: number | null; seeds: number | null } | null;
  /** With --robustness only (absent otherwise, so that records without it keep their bytes). */
  robustness?: Robustness;
  /** Encoder-decoder models only: the target tokens whose step-wise metrics the record averages. */
  steps?: number;
}
