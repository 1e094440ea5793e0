// The package's library entry (package.json `exports`). Minimal here: the plugin API and the helpers the
// example plugins use; the full typed API (h29-api) extends this file.
export { InterpError, usageError } from './errors.js';
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
