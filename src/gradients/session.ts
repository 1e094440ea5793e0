/**
 * Gradients by job: the forward-and-backward graph for a source and score (build.ts), its session cached in
 * memory and on disk and keyed by the builder's import closure (cache.ts), and batched runs within an
 * activation budget (run.ts). This file gathers what callers use.
 */
export type { GradientSource } from './build.js';
export { gradientSession, type EmbeddingRows, type GradientSession } from './cache.js';
export {
  activationBudgetMb,
  runGradients,
  meanGradients,
  shadowLogitDifference,
  type GradientRow,
  type GradientRowResult,
} from './run.js';
export { headScoreOf, targetHead } from '../target/registry.js';
