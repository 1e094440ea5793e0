import { PER_BATCH_QUANTIZER } from '../onnx/nodeScan.js';
import { runtimeError, usageError } from '../errors.js';
import { readGraph } from '../model/load.js';
import type { Model } from './model.js';
import { valueInfo } from '../onnx/builder.js';
import { hasFloat16Weights } from '../onnx/float16.js';
import { dependencies, GraphIndex } from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { runBatched } from '../runtime/runBatched.js';
import { sliceRow } from './activations.js';
import type { RunContext } from './context.js';
import { derivedOnce } from './derived.js';
import { openGraph } from './session.js';
import { floatTensor, type Feeds } from './tensor.js';
import { resolveSite, SEQUENCE_AXES, SITE_AXES, type ResolvedSite, type Site, type SiteKind } from './sites.js';

export type { HeadsSite, Site } from './sites.js';

/** A float tensor whose axes are named: a site's value for one sequence, or a batch's ([batch, ...axes]). */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** What a write hook is told: which site, which sequences of the run its batch holds, and their lengths. */
export interface HookContext {
  site: Site;
  /** Sequences [start, end) of the run are the batch's rows. */
  start: number;
  end: number;
  /** Padded length of the batch, and each row's real length. */
  length: number;
  lengths: number[];
}

/**
 * Replace a site's value before the rest of the graph reads it. It receives the batch's value
 * [batch, ...site axes] (padded to ctx.length; a head's slice is [batch, position, d_head]) and returns
 * one of the same dims (it may change `value` in place and return it).
 */
export type WriteHook = ((value: Tensor, ctx: HookContext) => Tensor) & {
  replaces?: true;
  mixes?: (ctx: HookContext) => Mix;
  /** The mix selects (selectWith): value where the mask is not 0, the site's own elsewhere, no arithmetic. */
  selects?: true;
};

/** Where `mask` is 1 a site takes `value`, where it is 0 it keeps its own; both broadcast to the site's value. */
export interface Mix {
  /** [batch, ...] with the site's rank, each axis the site's or 1 (for heads: [batch, head, query, 1]). */
  mask: Tensor;
  /** [batch, ...] likewise: the site's own axes, or 1 where one value stands for all. */
  value: Tensor;
}

/**
 * A write hook that does not read the site's value, only replaces it (a stored clean state, a noised
 * embedding): the graph is then not run up to the site first. `value` is the batch's [batch, ...site axes].
 */
export function replaceWith(value: (ctx: HookContext) => Tensor): WriteHook {
  return Object.assign((_: Tensor, ctx: HookContext) => value(ctx), { replaces: true as const });
}

/**
 * A write hook that replaces the site's value only where a mask says (restoring one head at one position):
 * the graph itself computes out + mask · (value − out) at the site, so that the run is not first staged up
 * to the site. On a whole site only (a head's slice is written through its layer's `attn.heads.out`).
 */
export function mixWith(parts: (ctx: HookContext) => Mix): WriteHook {
  const mixed = (v: Tensor, ctx: HookContext): Tensor => {
    const { mask, value } = parts(ctx);
    const [m, w] = [broadcastIndex(v.dims, mask.dims), broadcastIndex(v.dims, value.dims)];
    const data = v.data.map((x, k) => x + mask.data[m(k)] * Math.fround(value.data[w(k)] - x));
    return { data, dims: v.dims };
  };
  return Object.assign(mixed, { mixes: parts });
}

/**
 * A write hook that takes `value` where the mask is not 0 and keeps the site's own value elsewhere, bit for
 * bit (a Where in the graph, no arithmetic): replacing some rows' components (a head, a feed-forward
 * block) in one run of the whole graph, so that the run is neither staged up to the site nor cut there.
 * Mask and value broadcast as mixWith's; on a whole site only.
 */
export function selectWith(parts: (ctx: HookContext) => Mix): WriteHook {
  const selected = (v: Tensor, ctx: HookContext): Tensor => {
    const { mask, value } = parts(ctx);
    const [m, w] = [broadcastIndex(v.dims, mask.dims), broadcastIndex(v.dims, value.dims)];
    return { data: v.data.map((x, k) => (mask.data[m(k)] !== 0 ? value.data[w(k)] : x)), dims: v.dims };
  };
  return Object.assign(selected, { mixes: parts, selects: true as const });
}

/** For a flat index into a tensor of `dims`, the index of the same element in one of `from` broadcast to it. */
function broadcastIndex(dims: readonly number[], from: readonly number[]): (k: number) => number {
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const own = from.map((_, i) => from.slice(i + 1).reduce((a, b) => a * b, 1));
  return (k) => dims.reduce((s, _, i) => s + (from[i] === 1 ? 0 : Math.floor(k / strides[i]) % dims[i]) * own[i], 0);
}

/** Which positions' logits a hooked run returns: every position, or each sequence's last only. */
export type LogitRows = 'all' | 'last';

export interface HookSpec {
  read?: readonly Site[];
  write?: Partial<Record<Site, WriteHook>>;
  /**
   * 'last': a language model's logits come back at each sequence's last position only ([1, vocab]), for
   * a metric read there: not a [position, vocab] copy per sequence (12.9 MB at GPT-2's 64 tokens).
   */
  logits?: LogitRows;
}

/** One sequence's read sites, TransformerLens's ActivationCache: `cache.get('layer.1.resid.post')`. */
export class HookCache {
  constructor(private readonly entries: ReadonlyMap<Site, Tensor>) {}

  /** The site's value for this sequence at its own length; its axes are `axesOf(site)`. */
  get(site: Site): Tensor {
    const t = this.entries.get(site);
    if (!t) throw new Error(`site '${site}' was not read; name it in runWithHooks' read list`);
    return t;
  }

  sites(): Site[] {
    return [...this.entries.keys()];
  }
}

export interface HookedRun {
  /** The model's output for this sequence, [...logits dims without batch]. */
  logits: Tensor;
  cache: HookCache;
}

/** The axis names of a site's per-sequence tensor. */
export function axesOf(kind: SiteKind): readonly string[] {
  return SITE_AXES[kind];
}

const HOOK_INPUT = (tensor: string) => `interp.hook.${tensor}`;
const MIXED = (tensor: string) => `interp.hook.${tensor}.mixed`;
const MIX_MASK = (tensor: string) => `interp.hook.${tensor}.mask`;
const MIX_VALUE = (tensor: string) => `interp.hook.${tensor}.value`;

/** The nodes that compute a mixed tensor: out + mask · (value − out). */
function mixNodes(tensor: string): NodeProto[] {
  const node = (op: string, input: string[], output: string): NodeProto => ({
    input,
    output: [output],
    name: `interp_hook_${op}_${tensor}`,
    opType: op,
    domain: '',
    attribute: [],
  });
  return [
    node('Sub', [MIX_VALUE(tensor), tensor], `${MIXED(tensor)}.delta`),
    node('Mul', [MIX_MASK(tensor), `${MIXED(tensor)}.delta`], `${MIXED(tensor)}.masked`),
    node('Add', [tensor, `${MIXED(tensor)}.masked`], MIXED(tensor)),
  ];
}

/** The nodes that select a tensor's values: Where(mask ≠ 0, value, out). */
function selectNodes(tensor: string): NodeProto[] {
  return [
    castTo(MIX_MASK(tensor), `${MIXED(tensor)}.chosen`, DataType.BOOL),
    {
      input: [`${MIXED(tensor)}.chosen`, MIX_VALUE(tensor), tensor],
      output: [MIXED(tensor)],
      name: `interp_hook_Where_${tensor}`,
      opType: 'Where',
      domain: '',
      attribute: [],
    },
  ];
}

/**
 * The model's graph with each of `writes` fed from an input (`interp.hook.<tensor>`) in place of the
 * tensor its node computes, each of `mixes` mixed in the graph with a fed mask and value (mixWith), and
 * `outputs` exposed; only what those outputs need remains.
 */
export function hookedGraph(
  proto: ModelProto,
  writes: readonly string[],
  outputs: readonly string[],
  /** The written tensors' ranks: 3 ([batch, sequence, hidden]) or 4 ([batch, head, query, ·]). */
  rank: (tensor: string) => number,
  mixes: readonly string[] = [],
  /** Those of `mixes` that select (selectWith) rather than mix. */
  selects: readonly string[] = [],
): ModelProto {
  const hooked = new Set(writes);
  const mixed = new Set(mixes);
  // A float16 graph's activations are float16: what is fed arrives in float32 and is cast on the way in.
  const half = hasFloat16Weights(proto);
  const fedNames = [...writes.map(HOOK_INPUT), ...mixes.flatMap((m) => [MIX_MASK(m), MIX_VALUE(m)])];
  const rewired: NodeProto[] = [
    ...proto.graph.node.map((n) => ({
      ...n,
      input: n.input.map((i) => (hooked.has(i) ? HOOK_INPUT(i) : mixed.has(i) ? MIXED(i) : i)),
    })),
    ...mixes.flatMap((m) => (selects.includes(m) ? selectNodes(m) : mixNodes(m))),
  ].map((n) => (half ? { ...n, input: n.input.map((i) => (fedNames.includes(i) ? `${i}.half` : i)) } : n));
  if (half) rewired.unshift(...fedNames.map((i) => castTo(i, `${i}.half`, DataType.FLOAT16)));
  const { nodes: needed, tensors } = dependencies(rewired, outputs);
  const declared = new Set(proto.graph.output.map((o) => o.name));
  return {
    ...proto,
    graph: {
      ...proto.graph,
      node: rewired.filter((n) => needed.has(n)),
      initializer: proto.graph.initializer.filter((t) => tensors.has(t.name)),
      input: [
        ...proto.graph.input.filter((v) => tensors.has(v.name)),
        ...writes.filter((w) => tensors.has(HOOK_INPUT(w))).map((w) => hookInput(w, rank(w))),
        // Declared without a shape: the mask broadcasts.
        ...mixes
          .filter((m) => tensors.has(MIX_MASK(m)))
          .flatMap((m) => [valueInfo(MIX_MASK(m), DataType.FLOAT), valueInfo(MIX_VALUE(m), DataType.FLOAT)]),
      ],
      output: [
        ...proto.graph.output.filter((o) => outputs.includes(o.name)),
        ...outputs.filter((o) => !declared.has(o)).map((o) => valueInfo(o, half ? DataType.FLOAT16 : DataType.FLOAT)),
      ],
      // Shapes inferred for the original graph may not hold once a tensor is fed from outside.
      valueInfo: [],
    },
  };
}

function castTo(input: string, output: string, to: number): NodeProto {
  return {
    input: [input],
    output: [output],
    name: output,
    opType: 'Cast',
    domain: '',
    attribute: [{ name: 'to', type: 2, i: to }],
  };
}

/** A hook input declared as cutAt declares its cut: named axes, which onnxruntime's optimizer reads. */
function hookInput(tensor: string, rank: number) {
  const axes = rank === 4 ? ['batch', 'head', 'query', 'inner'] : ['batch', 'sequence', 'hidden'];
  return valueInfo(HOOK_INPUT(tensor), DataType.FLOAT, axes);
}

/** The session of a hooked graph, built once per model and hook spec (the tensors written, mixed and read). */
function hookedSession(model: Model, stage: Stage, outputs: readonly string[]) {
  const { fed, mixed, selected, rank } = stage;
  const key = `hooks|${fed.join(',')}|${mixed.join(',')}|${selected.join(',')}|${outputs.join(',')}`;
  return derivedOnce(model, key, async () => {
    try {
      const graph = hookedGraph(readGraph(model), fed, outputs, rank, mixed, selected);
      return await openGraph(graph, { threads: model.threads });
    } catch (e) {
      throw runtimeError(`cannot hook '${model.id}': ${(e as Error).message.split('\n')[0]}`);
    }
  });
}

/** Where each tensor is computed in the graph (ONNX keeps nodes in topological order). */
function graphOrder(model: Model, tensors: string[]): string[] {
  const index = new GraphIndex(readGraph(model).graph);
  const nodes = readGraph(model).graph.node;
  const at = (t: string) => nodes.indexOf(index.producer.get(t)!);
  return [...tensors].sort((a, b) => at(a) - at(b));
}

/** Copy head `head` out of [batch, head, query, d] as [batch, query, d], or write it back. */
function headSlice(whole: Tensor, head: number, site: Site, into?: Tensor): Tensor {
  const [B, H, T, d] = whole.dims;
  if (head >= H) throw usageError(`no hook site ${site}: its layer has ${H} heads`);
  const part = into ?? { data: new Float32Array(B * T * d), dims: [B, T, d] };
  for (let b = 0; b < B; b++) {
    const from = (b * H + head) * T * d;
    if (into) whole.data.set(into.data.subarray(b * T * d, (b + 1) * T * d), from);
    else part.data.set(whole.data.subarray(from, from + T * d), b * T * d);
  }
  return part;
}

/** Apply the write hooks of one tensor (a head's several slices, or one whole site) to a batch's value. */
function applyWrites(value: Tensor, sites: ResolvedSite[], hooks: HookSpec['write'], ctx: Omit<HookContext, 'site'>) {
  let out: Tensor = { data: value.data.slice(), dims: [...value.dims] }; // hooks may change it in place
  for (const s of sites) {
    const hook = hooks![s.site]!;
    if (s.head === null) out = checked(hook(out, { ...ctx, site: s.site }), hook.replaces ? null : out.dims, s.site);
    else {
      const part = headSlice(out, s.head, s.site);
      headSlice(out, s.head, s.site, checked(hook(part, { ...ctx, site: s.site }), [...part.dims], s.site));
    }
  }
  return out;
}

function checked(t: Tensor, dims: number[] | null, site: Site): Tensor {
  if (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])))
    throw runtimeError(`the write hook of ${site} returned [${t.dims}] for a value of [${dims}]`);
  return t;
}

/** What is fed for each written tensor, per batch (by its first sequence): its value, or what to mix in. */
type Written = Map<string, Map<number, Tensor | Mix>>;

/** The written tensors a session is fed (in place of computing them), and those it mixes in the graph. */
interface Stage {
  fed: string[];
  mixed: string[];
  /** Those of `mixed` that select (selectWith). */
  selected: string[];
  rank: (tensor: string) => number;
}

const tensorOf = (t: Tensor) => floatTensor(t.data, t.dims);

function feedsOf(stage: Stage, written: Written, fill: (start: number, end: number) => void) {
  return (start: number, end: number): Feeds => {
    fill(start, end);
    const feeds: Feeds = {};
    for (const t of stage.fed) feeds[HOOK_INPUT(t)] = tensorOf(written.get(t)!.get(start) as Tensor);
    for (const t of stage.mixed) {
      const { mask, value } = written.get(t)!.get(start) as Mix;
      feeds[MIX_MASK(t)] = tensorOf(mask);
      feeds[MIX_VALUE(t)] = tensorOf(value);
    }
    return feeds;
  };
}

/**
 * The written tensors in graph order, and how each batch's values are found: a tensor whose hooks only
 * replace it, or whose one hook mixes it (mixWith), is filled when a batch is fed; any other first runs
 * the graph up to it (earlier writes fed in) and its hooks rewrite what that computed. Those partial runs
 * complete the one forward pass counted.
 */
async function writeStages(
  model: Model,
  sequences: readonly (readonly number[])[],
  writes: ResolvedSite[],
  hooks: HookSpec['write'],
) {
  const order = graphOrder(model, [...new Set(writes.map((w) => w.tensor))]);
  const written: Written = new Map(order.map((t) => [t, new Map()]));
  const ranks = new Map(writes.map((w) => [w.tensor, w.kind === 'head' || SITE_AXES[w.kind].length === 3 ? 4 : 3]));
  const sitesOf = (t: string) => writes.filter((w) => w.tensor === t);
  const mixer = (t: string) => {
    const [only, ...more] = sitesOf(t);
    return !more.length && only.head === null ? hooks![only.site]!.mixes : undefined;
  };
  const mixed = order.filter((t) => mixer(t));
  const replaced = order.filter(
    (t) => !mixed.includes(t) && sitesOf(t).every((w) => w.head === null && hooks![w.site]!.replaces),
  );
  const stageOf = (tensors: string[]): Stage => ({
    fed: tensors.filter((t) => !mixed.includes(t)),
    mixed: tensors.filter((t) => mixed.includes(t)),
    selected: tensors.filter((t) => mixed.includes(t) && hooks![sitesOf(t)[0].site]!.selects),
    rank: (t) => ranks.get(t)!,
  });
  const fill = (start: number, end: number) => {
    const lengths = sequences.slice(start, end).map((s) => s.length);
    const ctx = { start, end, length: Math.max(...lengths), lengths };
    const empty = { data: new Float32Array(0), dims: [] };
    for (const t of [...replaced, ...mixed])
      if (!written.get(t)!.has(start))
        written
          .get(t)!
          .set(
            start,
            mixed.includes(t)
              ? mixer(t)!({ ...ctx, site: sitesOf(t)[0].site })
              : applyWrites(empty, sitesOf(t), hooks, ctx),
          );
  };
  for (const [i, tensor] of order.entries()) {
    if (replaced.includes(tensor) || mixed.includes(tensor)) continue;
    const before = stageOf(order.slice(0, i));
    await runBatched(
      model,
      sequences,
      (batch, row, index) => {
        if (row > 0) return;
        const { data, dims } = batch.output(tensor);
        const ctx = { start: index, end: index + batch.rows, length: batch.length, lengths: batch.lengths };
        written.get(tensor)!.set(index, applyWrites({ data, dims: [...dims] }, sitesOf(tensor), hooks, ctx));
      },
      {
        session: await hookedSession(model, before, [tensor]),
        outputs: [tensor],
        extraFeeds: feedsOf(before, written, fill),
        ...rowsAlone(model),
      },
    );
  }
  return { stage: stageOf(order), written, fill };
}

/**
 * Whether a row's numbers depend on the rows batched with it: DynamicQuantizeLinear (and the fused
 * operators that quantize inside) take one scale over the whole tensor, that is over the batch.
 */
export function quantizesPerBatch(model: Model): boolean {
  return readGraph(model).graph.node.some((n) => n.opType.startsWith(PER_BATCH_QUANTIZER));
}

/** Each row's numbers are its own: where the graph quantizes per batch, a row runs alone (staging too). */
const rowsAlone = (model: Model): { batchRows?: number } => (quantizesPerBatch(model) ? { batchRows: 1 } : {});

/**
 * Run sequences through the model with hooks (TransformerLens's run_with_hooks, nnsight's envoys): the
 * `write` hooks replace their sites' values before the rest of the graph reads them, and the `read`
 * sites come back per sequence, at its own length, as they were after any write. Batched like every run;
 * the graphs are derived from the model's by cutting it at the written tensors, built once per hook spec.
 */
export async function runWithHooks(
  model: Model,
  sequences: readonly (readonly number[])[],
  spec: HookSpec = {},
  run?: RunContext,
): Promise<HookedRun[]> {
  const reads = await Promise.all((spec.read ?? []).map((s) => resolveSite(model, s)));
  const writes = await Promise.all(Object.keys(spec.write ?? {}).map((s) => resolveSite(model, s as Site)));
  const { stage, written, fill } = await writeStages(model, sequences, writes, spec.write);
  const logits = model.signature.logits;
  // A mixed tensor is read after its mixing; a fed one is what was fed.
  const source = (t: string) => (stage.mixed.includes(t) ? MIXED(t) : t);
  const fetched = [...new Set(reads.filter((r) => !stage.fed.includes(r.tensor)).map((r) => source(r.tensor)))];
  const outputs = [logits, ...fetched];
  const logitAxes = model.task === 'classification' ? [] : [0];
  const last = spec.logits === 'last' && model.task !== 'classification';
  return runBatched(
    model,
    sequences,
    (batch, row, i) => {
      const T = sequences[i].length;
      const start = i - row;
      const entries = new Map<Site, Tensor>();
      for (const r of reads) {
        const whole = stage.fed.includes(r.tensor)
          ? (written.get(r.tensor)!.get(start) as Tensor)
          : batch.output(source(r.tensor));
        const value = r.head === null ? whole : headSlice({ data: whole.data, dims: [...whole.dims] }, r.head, r.site);
        entries.set(r.site, sliceRow(value.data, value.dims, row, batch.length, T, SEQUENCE_AXES[r.kind]));
      }
      const out = batch.output(logits);
      return {
        logits: last ? lastRow(out, row, T) : sliceRow(out.data, out.dims, row, batch.length, T, logitAxes),
        cache: new HookCache(entries),
      };
    },
    {
      session: await hookedSession(model, stage, outputs),
      ...rowsAlone(model),
      outputs,
      run,
      extraFeeds: batchByBatch(written, feedsOf(stage, written, fill)),
    },
  );
}

/** Row `row`'s logits at position T − 1 of a [batch, position, vocab] output, as [1, vocab]. */
function lastRow(out: { data: Float32Array; dims: readonly number[] }, row: number, T: number): Tensor {
  const [, P, V] = out.dims;
  const from = (row * P + T - 1) * V;
  return { data: out.data.slice(from, from + V), dims: [1, V] };
}

/**
 * The final run's feeds, each batch's written values dropped once the next batch is fed: a batch's
 * values are read only while it runs (the staging runs before, which need them all, are done).
 */
function batchByBatch(written: Written, feeds: (start: number, end: number) => Feeds) {
  return (start: number, end: number): Feeds => {
    for (const values of written.values()) for (const at of values.keys()) if (at !== start) values.delete(at);
    return feeds(start, end);
  };
}
