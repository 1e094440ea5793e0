import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { replaceWith, runWithHooks, type Site, type Tensor, type WriteHook } from '../runtime/hooks.js';
import { componentName, logitDifference, type CircuitTask, type Component } from './components.js';
import type { Edge, EdgeInput } from './edges.js';

/** An edge's identity: its sender, receiver and the receiver's input. */
type EdgeKey = string;
export const edgeKey = (e: Pick<Edge, 'sender' | 'receiver' | 'input'>): EdgeKey =>
  `${e.sender}|${e.receiver}|${e.input}`;

/** One circuit's outputs in its edge-ablated run, per layer: heads [head, position, d_head], MLP [position, d_mlp]. */
interface Outputs {
  heads: (Float32Array | null)[];
  mlps: (Float32Array | null)[];
}

const headsSite = (l: number): Site => `layer.${l}.attn.heads.out`;
const mlpSite = (l: number): Site => `layer.${l}.mlp.act`;
const inputSite = (l: number, x: 'q' | 'k' | 'v'): Site => `layer.${l}.attn.${x}`;

/**
 * Edge-by-edge ablation (path patching of edges, as EAP's and MIB's circuit evaluation does it): for each
 * circuit, a run of the clean prompt in which every receiver's input (a head's queries, keys or values, a
 * feed-forward block's input, the logits) is the residual stream with the sender outputs of its edges
 * outside the circuit replaced by `source` (corrupted, mean, zero), and those of its edges inside carrying
 * the circuit's own run. Layer by layer, all circuits batched: one row per distinct mix of senders a
 * receiving layer's inputs hear, one row per circuit for its heads from the mixed inputs, one per mix for the
 * feed-forward block, one per circuit for the logits. Returns the metric of each circuit's run.
 */
export async function ablateEdgesOutside(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  circuits: readonly (readonly Pick<Edge, 'sender' | 'receiver' | 'input'>[])[],
  source: (c: Component) => Tensor,
  run?: RunContext,
): Promise<number[]> {
  const layers = 1 + Math.max(...components.map((c) => c.layer));
  const inside = circuits.map((c) => new Set(c.map(edgeKey)));
  const outputs: Outputs[] = circuits.map(() => ({ heads: [], mlps: [] }));
  const heads = (l: number) =>
    components.filter((c): c is Component & { kind: 'head' } => c.kind === 'head' && c.layer === l);
  for (let l = 0; l < layers; l++) {
    const before = components.filter((c) => c.layer < l);
    // The queries, keys and values each head of each circuit reads, from its mix of senders.
    const mixes = new Mixes(components, outputs, source, inside);
    const wanted = circuits.map((_, i) =>
      heads(l).map((h) =>
        (['q', 'k', 'v'] as const).map((x) => mixes.rowOf(i, before, { receiver: componentName(h), input: x })),
      ),
    );
    const read = heads(l).length ? (['q', 'k', 'v'] as const).map((x) => inputSite(l, x)) : [];
    const mixed = await mixes.run(model, task, l, false, read, run);
    const assembled = (i: number, x: 0 | 1 | 2): Tensor => {
      const first = mixed[wanted[i][0][x]].cache.get(read[x]);
      const per = first.data.length / heads(l).length;
      const data = new Float32Array(first.data.length);
      heads(l).forEach((h, j) =>
        data.set(
          mixed[wanted[i][j][x]].cache.get(read[x]).data.subarray(h.head * per, (h.head + 1) * per),
          h.head * per,
        ),
      );
      return { data, dims: first.dims };
    };
    if (heads(l).length) {
      // Each circuit's heads, computed from its assembled inputs.
      const write: Partial<Record<Site, WriteHook>> = {};
      ([0, 1, 2] as const).forEach((x) => (write[read[x]] = replaceWith((ctx) => stack(ctx, (i) => assembled(i, x)))));
      const own = await runWithHooks(
        model,
        circuits.map(() => task.clean),
        { read: [headsSite(l)], write },
        run,
      );
      own.forEach((o, i) => (outputs[i].heads[l] = o.cache.get(headsSite(l)).data));
    }
    const mlp = components.find((c) => c.kind === 'mlp' && c.layer === l);
    if (mlp) {
      const ff = new Mixes(components, outputs, source, inside);
      const heard = components.filter((c) => c.layer < l || (c.layer === l && c.kind === 'head'));
      const rows = circuits.map((_, i) => ff.rowOf(i, heard, { receiver: componentName(mlp), input: 'mlp' }));
      const ran = await ff.run(model, task, l, true, [mlpSite(l)], run);
      rows.forEach((r, i) => (outputs[i].mlps[l] = ran[r].cache.get(mlpSite(l)).data));
    }
  }
  const final = new Mixes(components, outputs, source, inside);
  const rows = circuits.map((_, i) => final.rowOf(i, components, { receiver: 'logits', input: 'logits' }));
  const ran = await final.run(model, task, layers, true, [], run);
  return rows.map((r) => logitDifference(ran[r].logits, task));
}

/**
 * The distinct mixes of sender outputs that one stage's receivers hear: each a row that writes every sender
 * before the receiving layer (and, for a feed-forward block or the logits, its own layer's heads) with the
 * circuit's own output where the edge is inside the circuit, and the ablated one where it is not.
 */
class Mixes {
  private readonly keys = new Map<string, number>();
  private readonly rows: { circuit: number; kept: Set<string> }[] = [];

  constructor(
    private readonly components: readonly Component[],
    private readonly outputs: Outputs[],
    private readonly source: (c: Component) => Tensor,
    private readonly inside: Set<EdgeKey>[],
  ) {}

  /** The row whose mix circuit i's receiver hears from `senders`. */
  rowOf(i: number, senders: readonly Component[], to: { receiver: string; input: EdgeInput }): number {
    const kept = senders.map(componentName).filter((s) => this.inside[i].has(edgeKey({ sender: s, ...to })));
    // The circuit's own outputs differ between circuits: a mix that keeps any is that circuit's alone.
    const key = kept.length ? `${i}|${kept.join(',')}` : '';
    let row = this.keys.get(key);
    if (row === undefined) {
      row = this.rows.length;
      this.keys.set(key, row);
      this.rows.push({ circuit: i, kept: new Set(kept) });
    }
    return row;
  }

  /** Run every row with its senders written: the layers before `layer`, and `layer`'s heads when `withHeads`. */
  async run(model: Model, task: CircuitTask, layer: number, withHeads: boolean, read: Site[], run?: RunContext) {
    const write: Partial<Record<Site, WriteHook>> = {};
    for (let l = 0; l < layer + (withHeads ? 1 : 0); l++) {
      const heads = this.components.filter((c) => c.kind === 'head' && c.layer === l);
      if (heads.length) write[headsSite(l)] = replaceWith((ctx) => stack(ctx, (r) => this.written(r, heads)));
      const mlp = this.components.filter((c) => c.kind === 'mlp' && c.layer === l);
      if (mlp.length && l < layer) write[mlpSite(l)] = replaceWith((ctx) => stack(ctx, (r) => this.written(r, mlp)));
    }
    if (!this.rows.length) return [];
    return runWithHooks(
      model,
      this.rows.map(() => task.clean),
      { read, write, logits: 'last' },
      run,
    );
  }

  /** One layer's heads (or its feed-forward block) as row r writes them: kept senders' own outputs, the rest ablated. */
  private written(r: number, senders: readonly Component[]): Tensor {
    const { circuit, kept } = this.rows[r];
    const parts = senders.map((c) => {
      if (kept.has(componentName(c))) {
        const own = this.outputs[circuit];
        if (c.kind === 'mlp') return own.mlps[c.layer]!;
        const all = own.heads[c.layer]!;
        const per = all.length / senders.length;
        return all.subarray(c.head * per, (c.head + 1) * per);
      }
      return this.source(c).data;
    });
    const per = parts[0].length;
    const data = new Float32Array(per * parts.length);
    parts.forEach((p, j) => data.set(p, j * per));
    const [T] = this.source(senders[0]).dims;
    return { data, dims: senders[0].kind === 'mlp' ? [T, per / T] : [senders.length, T, per / T] };
  }
}

/** A batch value [rows, ...] from one per-sequence value per row (all rows have the clean prompt's length). */
function stack(ctx: { start: number; end: number }, of: (r: number) => Tensor): Tensor {
  const first = of(ctx.start);
  const data = new Float32Array((ctx.end - ctx.start) * first.data.length);
  for (let r = ctx.start; r < ctx.end; r++)
    data.set(r === ctx.start ? first.data : of(r).data, (r - ctx.start) * first.data.length);
  return { data, dims: [ctx.end - ctx.start, ...first.dims] };
}
