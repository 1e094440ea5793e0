import { rolloutRow } from '../attention/analysis.js';
import { attentionView } from '../attention/report.js';
import { circuitDatasetReport, type CircuitDatasetReport, type CircuitPair } from '../circuit/dataset.js';
import { compareMethods } from '../comparison.js';
import { counterfactualReport, type CounterfactualReport } from '../counterfactual/report.js';
import type { Example } from '../data/datasets.js';
import { usageFault } from '../errors.js';
import {
  explainText,
  prepare,
  preparedScorer,
  type Attribution,
  type ExplainRequest,
  type Prepared,
} from '../explain.js';
import { explainGeneration, type GenerationAttribution } from '../generate.js';
import { faithfulness, type Faithfulness } from '../metrics/faithfulness.js';
import type { Model } from '../model/types.js';
import { countingPasses } from '../runtime/context.js';
import { pool } from '../attention/pool.js';
import type { TokenRecord } from '../text/encode.js';
import type { HeadRole } from '../attention/analysis.js';
import { testSuite, type TestReport } from '../hypothesis/report.js';
import type { Suite } from '../hypothesis/suite.js';

export const REPORT_SCHEMA = 'interp/report@1';

/** Points on each deletion and insertion curve in the page (the fidelity default). */
export const REPORT_CURVE_POINTS = 51;

export interface ReportRequest extends Omit<ExplainRequest, 'text' | 'method'> {
  /** One text, or a dataset's examples (a page with an example picker). */
  examples: Pick<Example, 'id' | 'text' | 'label'>[];
  methods: string[];
  /** Causal LMs: generate this many tokens and attribute each (the first method). */
  generate?: number;
  /** Search counterfactuals with the embedding proposer under this forward-pass budget (0: none). */
  counterfactualBudget: number;
  /** Above this many tokens, attention maps pool neighbouring tokens into ranges. */
  maxTokens: number;
  /** The command line that made the page, shown in its header. */
  invocation: string;
  /** A test suite (`--suite`) whose results the page lists. */
  suite?: Suite;
  version: string;
  /** Prompt pairs whose circuit the page shows (attribution patching, checked by exact patching). */
  circuit?: CircuitPair[];
}

/** The attention of one input, pooled to at most `maxTokens` bins a side. */
export interface PageAttention {
  shape: { layers: number; heads: number; tokens: number };
  /** Tokens per bin (1: not pooled). */
  bin: number;
  labels: string[];
  /** [layer][head] → [query bin × key bin], row-major. */
  maps: number[][][];
  /** Attention rollout (Abnar & Zuidema 2020) from the focus position to every token, unpooled. */
  rollout: { focus: number; row: number[] };
  roles: HeadRole[];
}

export interface ReportItem {
  id: string;
  text: string;
  label: string | null;
  tokens: TokenRecord[];
  explanations: Attribution[];
  /** [method, method] Spearman correlations of the attributions. */
  correlations: number[][];
  /** Deletion and insertion curves and ERASER scores of each explanation, in `explanations` order. */
  faithfulness: Faithfulness[];
  attention: PageAttention;
  generation: GenerationAttribution | null;
  counterfactual: CounterfactualReport | null;
}

/** Everything one HTML page shows, embedded in it as JSON. */
export interface PageReport {
  schema: typeof REPORT_SCHEMA;
  version: string;
  invocation: string;
  model: string;
  task: Model['task'];
  methods: string[];
  seed: number;
  forwardPasses: number;
  items: ReportItem[];
  /** The suite's results (`interp report --suite`); absent when none was asked for. */
  tests?: TestReport;
  /** The circuit of the requested pairs, when asked for. */
  circuit?: CircuitDatasetReport;
}

function checkRequest(model: Model, r: ReportRequest): void {
  if (r.examples.length === 0) throw usageFault('data', 'the page has no examples');
  if (r.methods.length === 0) throw usageFault('methods', '{param} names no method');
  if (r.generate !== undefined && model.task !== 'causal-lm')
    throw usageFault('generate', '{param} applies to causal language models');
}

/** Every method on one input, sharing one preparation (the curves use it too); one method needs no comparison. */
async function explanations(model: Model, request: ExplainRequest, methods: string[], prepared: Prepared) {
  if (methods.length === 1) {
    const result = await explainText(model, { ...request, method: methods[0] }, { prepared });
    return { results: [result], correlations: [[1]] };
  }
  return compareMethods(model, request, methods, prepared);
}

async function curves(model: Model, request: ExplainRequest, results: Attribution[], p: Prepared) {
  const { score } = preparedScorer(model, p);
  const out: Faithfulness[] = [];
  for (const r of results) {
    const values = r.features.map((f) => f.attribution);
    out.push(await faithfulness(score, values, p.fullScore, { seed: request.seed, curvePoints: REPORT_CURVE_POINTS }));
  }
  return out;
}

async function pageAttention(model: Model, request: ReportRequest & { text: string }): Promise<PageAttention> {
  const view = await attentionView(model, {
    text: request.text,
    sort: 'entropy',
    inductionLength: model.task === 'causal-lm' ? 20 : 0,
    seed: request.seed ?? 0,
    maxTokens: request.maxTokens,
    truncate: request.truncate,
  });
  const { tokens: T } = view.shape;
  const names = view.encoding.tokens;
  const pooled = view.matrices.map((heads) => heads.map((m) => pool(m, T, names, request.maxTokens)));
  const first = pooled[0][0];
  return {
    shape: view.shape,
    bin: Math.ceil(T / first.size),
    labels: first.labels,
    maps: pooled.map((heads) => heads.map((p) => Array.from(p.data))),
    rollout: { focus: view.focus, row: Array.from(rolloutRow(view.matrices, T, view.focus)) },
    roles: view.roles,
  };
}

async function reportItem(model: Model, request: ReportRequest, example: ReportRequest['examples'][number]) {
  const explainRequest: ExplainRequest = { ...request, text: example.text, method: request.methods[0] };
  // With the token baseline, which the deletion curves need whatever the methods are.
  const prepared = await prepare(model, { ...explainRequest, method: 'occlusion' });
  const { results, correlations } = await explanations(model, explainRequest, request.methods, prepared);
  const counterfactual =
    request.counterfactualBudget > 0
      ? await counterfactualReport(model, {
          text: example.text,
          proposer: { kind: 'embedding' },
          method: 'occlusion',
          budget: request.counterfactualBudget,
          beam: 16,
          maxEdits: 3,
          candidates: 8,
          top: 5,
          seed: request.seed ?? 0,
        })
      : null;
  const generation =
    request.generate !== undefined ? await explainGeneration(model, explainRequest, request.generate) : null;
  const item: ReportItem = {
    id: example.id,
    text: example.text,
    label: example.label ?? null,
    tokens: results[0].tokens,
    explanations: results,
    correlations,
    faithfulness: await curves(model, explainRequest, results, prepared),
    attention: await pageAttention(model, { ...request, text: example.text }),
    generation,
    counterfactual,
  };
  return item;
}

/** Explain each example with every method, measure each explanation, and gather the attention: one page's data. */
export async function buildReport(
  model: Model,
  request: ReportRequest,
  onItem?: (done: number) => void,
): Promise<PageReport> {
  checkRequest(model, request);
  const items: ReportItem[] = [];
  let forwardPasses = 0;
  for (const example of request.examples) {
    const { result, passes } = await countingPasses(() => reportItem(model, request, example));
    items.push(result);
    forwardPasses += passes;
    onItem?.(items.length);
  }
  const suite = request.suite;
  const tests = suite
    ? await countingPasses(() =>
        testSuite(model, suite, {
          seed: request.seed ?? 0,
          permutations: 1000,
          maxFailureRate: null,
          explain: 3,
          method: request.methods[0],
        }),
      )
    : null;
  const circuit = request.circuit && (await countingPasses(() => pageCircuit(model, request.circuit!)));
  forwardPasses += circuit?.passes ?? 0;
  return {
    schema: REPORT_SCHEMA,
    version: request.version,
    invocation: request.invocation,
    model: model.id,
    task: model.task,
    methods: request.methods,
    seed: request.seed ?? 0,
    forwardPasses: forwardPasses + (tests?.passes ?? 0),
    items,
    ...(tests && { tests: tests.result }),
    ...(circuit && { circuit: circuit.result }),
  };
}

/** The page's circuit: attribution patching over the pairs, exact patching beside it, the top 6 and their curve. */
function pageCircuit(model: Model, pairs: CircuitPair[]): Promise<CircuitDatasetReport> {
  const options = { method: 'atp', ablation: 'corrupted', k: 6, exactBudget: 512, steps: 16 } as const;
  return circuitDatasetReport(model, pairs, options);
}
