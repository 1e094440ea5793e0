import * as ort from 'onnxruntime-node';
import { runtimeError } from '../errors.js';
import { readGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { valueInfo } from '../onnx/builder.js';
import { dependencies, GraphIndex } from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { runBatched } from '../runner/runBatched.js';
import { sliceRow } from './activations.js';
import type { RunContext } from './context.js';
import { derivedOnce } from './derived.js';
import { openGraph } from './session.js';
import { resolveSite, SEQUENCE_AXES, SITE_AXES, type ResolvedSite, type Site, type SiteKind } from './sites.js';

export type { Site } from './sites.js';

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
export type WriteHook = ((value: Tensor, ctx: HookContext) => Tensor) & { replaces?: true };

/**
 * A write hook that does not read the site's value, only replaces it (a stored clean state, a noised
 * embedding): the graph is then not run up to the site first. `value` is the batch's [batch, ...site axes].
 */
export function replaceWith(value: (ctx: HookContext) => Tensor): WriteHook {
  return Object.assign((_: Tensor, ctx: HookContext) => value(ctx), { replaces: true as const });
}

export interface HookSpec {
  read?: readonly Site[];
  write?: Partial<Record<Site, WriteHook>>;
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

/**
 * The model's graph with each of `writes` fed from an input (`interp.hook.<tensor>`) in place of the
 * tensor its node computes, and `outputs` exposed; only what those outputs need remains.
 */
export function hookedGraph(
  proto: ModelProto,
  writes: readonly string[],
  outputs: readonly string[],
  /** The written tensors' ranks: 3 ([batch, sequence, hidden]) or 4 ([batch, head, query, ·]). */
  rank: (tensor: string) => number,
): ModelProto {
  const hooked = new Set(writes);
  const rewired: NodeProto[] = proto.graph.node.map((n) => ({
    ...n,
    input: n.input.map((i) => (hooked.has(i) ? HOOK_INPUT(i) : i)),
  }));
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
      ],
      output: [
        ...proto.graph.output.filter((o) => outputs.includes(o.name)),
        ...outputs.filter((o) => !declared.has(o)).map((o) => valueInfo(o, DataType.FLOAT)),
      ],
      // Shapes inferred for the original graph may not hold once a tensor is fed from outside.
      valueInfo: [],
    },
  };
}

/** A hook input declared as cutAt declares its cut: named axes, which onnxruntime's optimizer reads. */
function hookInput(tensor: string, rank: number) {
  const axes = rank === 4 ? ['batch', 'head', 'query', 'inner'] : ['batch', 'sequence', 'hidden'];
  return valueInfo(HOOK_INPUT(tensor), DataType.FLOAT, axes);
}

/** The session of a hooked graph, built once per model and hook spec (the tensors written and read). */
function hookedSession(
  model: Model,
  writes: readonly string[],
  outputs: readonly string[],
  rank: (t: string) => number,
) {
  return derivedOnce(model, `hooks|${writes.join(',')}|${outputs.join(',')}`, async () => {
    try {
      return await openGraph(hookedGraph(readGraph(model), writes, outputs, rank), { threads: model.threads });
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
function headSlice(whole: Tensor, head: number, into?: Tensor): Tensor {
  const [B, H, T, d] = whole.dims;
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
      const part = headSlice(out, s.head);
      headSlice(out, s.head, checked(hook(part, { ...ctx, site: s.site }), [...part.dims], s.site));
    }
  }
  return out;
}

function checked(t: Tensor, dims: number[] | null, site: Site): Tensor {
  if (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])))
    throw runtimeError(`the write hook of ${site} returned [${t.dims}] for a value of [${dims}]`);
  return t;
}

/** The value fed in place of each written tensor, per batch (by its first sequence). */
type Written = Map<string, Map<number, Tensor>>;

function feedsOf(tensors: readonly string[], written: Written, fill: (start: number, end: number) => void) {
  return (start: number, end: number): Record<string, ort.Tensor> => {
    fill(start, end);
    return Object.fromEntries(
      tensors.map((t) => {
        const v = written.get(t)!.get(start)!;
        return [HOOK_INPUT(t), new ort.Tensor('float32', v.data, v.dims)];
      }),
    );
  };
}

/**
 * The written tensors in graph order, and how each batch's values are found: a tensor whose hooks only
 * replace it is filled when a batch is fed; any other first runs the graph up to it (earlier writes fed
 * in) and its hooks rewrite what that computed. Those partial runs complete the one forward pass counted.
 */
async function writeStages(
  model: Model,
  sequences: readonly (readonly number[])[],
  writes: ResolvedSite[],
  hooks: HookSpec['write'],
) {
  const order = graphOrder(model, [...new Set(writes.map((w) => w.tensor))]);
  const written: Written = new Map(order.map((t) => [t, new Map()]));
  const ranks = new Map(writes.map((w) => [w.tensor, w.kind === 'head' || w.kind === 'pattern' ? 4 : 3]));
  const rank = (t: string) => ranks.get(t)!;
  const replaced = order.filter((t) =>
    writes.every((w) => w.tensor !== t || (w.head === null && hooks![w.site]!.replaces)),
  );
  const fill = (start: number, end: number) => {
    const lengths = sequences.slice(start, end).map((s) => s.length);
    const ctx = { start, end, length: Math.max(...lengths), lengths };
    for (const t of replaced)
      if (!written.get(t)!.has(start))
        written.get(t)!.set(
          start,
          applyWrites(
            { data: new Float32Array(0), dims: [] },
            writes.filter((w) => w.tensor === t),
            hooks,
            ctx,
          ),
        );
  };
  for (const [i, tensor] of order.entries()) {
    if (replaced.includes(tensor)) continue;
    const before = order.slice(0, i);
    const sites = writes.filter((w) => w.tensor === tensor);
    await runBatched(
      model,
      sequences,
      (batch, row, index) => {
        if (row > 0) return;
        const { data, dims } = batch.output(tensor);
        const ctx = { start: index, end: index + batch.rows, length: batch.length, lengths: batch.lengths };
        written.get(tensor)!.set(index, applyWrites({ data, dims: [...dims] }, sites, hooks, ctx));
      },
      {
        session: await hookedSession(model, before, [tensor], rank),
        outputs: [tensor],
        extraFeeds: feedsOf(before, written, fill),
      },
    );
  }
  return { order, written, fill, rank };
}

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
  const { order, written, fill, rank } = await writeStages(model, sequences, writes, spec.write);
  const logits = model.signature.logits;
  const fetched = [...new Set(reads.map((r) => r.tensor).filter((t) => !written.has(t)))];
  const outputs = [logits, ...fetched];
  const logitAxes = model.task === 'classification' ? [] : [0];
  return runBatched(
    model,
    sequences,
    (batch, row, i) => {
      const T = sequences[i].length;
      const start = i - row;
      const entries = new Map<Site, Tensor>();
      for (const r of reads) {
        const whole = written.get(r.tensor)?.get(start) ?? batch.output(r.tensor);
        const value = r.head === null ? whole : headSlice({ data: whole.data, dims: [...whole.dims] }, r.head);
        entries.set(r.site, sliceRow(value.data, value.dims, row, batch.length, T, SEQUENCE_AXES[r.kind]));
      }
      const out = batch.output(logits);
      return { logits: sliceRow(out.data, out.dims, row, batch.length, T, logitAxes), cache: new HookCache(entries) };
    },
    {
      session: await hookedSession(model, order, outputs, rank),
      outputs,
      run,
      extraFeeds: feedsOf(order, written, fill),
    },
  );
}
