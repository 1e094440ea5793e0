/**
 * interp as a library: the package's exports. What is exported here is the public contract, versioned with
 * semver. Keep this a flat list of re-exports.
 */
export {
  loadModel,
  loadSeq2SeqModel,
  explain,
  attention,
  lens,
  patch,
  counterfactual,
  chain,
  report,
  explore,
  circuit,
  bias,
  concepts,
  knowledge,
  steer,
} from './api/capabilities.js';
export { AbortError, type CallOptions } from './api/run.js';
export { fidelity } from './api/fidelity.js';
export { leaderboard, LEADERBOARD_SCHEMA } from './fidelity/leaderboard.js';
export { RECORD_SCHEMA as FIDELITY_RECORD_SCHEMA } from './fidelity/types.js';
export type * from './api/options.js';
export { InterpError, ExitCode, type ErrorKind } from './errors.js';
export { ATTRIBUTION_SCHEMA } from './explain.js';
export { COMPARISON_SCHEMA } from './comparison.js';
export { GENERATION_SCHEMA } from './generate.js';
export { SEQ2SEQ_SCHEMA } from './seq2seq/explain.js';
export { SEQ2SEQ_ATTENTION_SCHEMA } from './seq2seq/attentionView.js';
export { ATTENTION_SCHEMA } from './attention/report.js';
export { LENS_SCHEMA } from './concepts/lens.js';
export { PATCH_SCHEMA } from './patch/patch.js';
export { COUNTERFACTUAL_SCHEMA } from './counterfactual/report.js';
export { CHAIN_SCHEMA } from './chain/chain.js';
export { EXPLORE_SCHEMA } from './explore.js';
export { SAMPLING_SCHEMA } from './sampling.js';
export { CIRCUIT_SCHEMA } from './circuit/circuit.js';
export { REPORT_SCHEMA } from './report/page.js';
export { toJson } from './render/json.js';
export { VERSION } from './util/paths.js';

// Plugins: the registries and the helpers the example plugins use.
export { usageError } from './errors.js';
export { idsAfterPrompt, labelScore, logProbAt, tokenName } from './target/scores.js';
export type {
  ResolveContext,
  Target,
  TargetDescriptor,
  TargetKind,
  TargetReads,
  TargetRequest,
} from './target/kind.js';
export { registerGrouping, registerMethod, registerTarget, loadPlugin, type Plugin } from './plugins.js';
export { fullCoalition } from './masking/replacement.js';
export type { AttributionMethod, ExplainContext, MethodResult } from './methods/types.js';
export type { Grouping } from './masking/types.js';
export { checkMethod, type CheckResult } from './methods/conformance.js';
