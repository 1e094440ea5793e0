import { usageError } from '../errors.js';
import type { Model } from './model.js';
import { runBatched } from '../runtime/runBatched.js';
import type { RunContext } from './context.js';

/**
 * Internal activations by hook name, as TransformerLens's run_with_cache names them. Shapes are those
 * of one sequence, at its own length:
 * - `hidden.L`: the residual stream after layer L (0 = the embeddings) // [pos, dModel]
 * - `attn.L.pattern`: attention probabilities // [head, query, key]
 * - `attn.L.v`: value vectors // [head, key, headDim] (grouped-query exports: as the graph has them)
 * - `mlp.L`: the feed-forward activation inside layer L // [pos, dMlp]
 */
export type HookName = `hidden.${number}` | `attn.${number}.pattern` | `attn.${number}.v` | `mlp.${number}`;

export interface Activation {
  data: Float32Array;
  dims: number[];
}

/** One sequence's activations. */
export class ActivationCache {
  constructor(private readonly entries: ReadonlyMap<HookName, Activation>) {}

  get(name: HookName): Activation {
    const a = this.entries.get(name);
    if (!a) throw new Error(`activation '${name}' was not cached; ask runWithCache for it`);
    return a;
  }
}

/** Per hook kind, the axes of one sequence's tensor that run over positions (padded in a batch). */
const SEQUENCE_AXES: Record<string, number[]> = { hidden: [0], pattern: [1, 2], v: [1], mlp: [0] };

function kindOf(name: HookName): string {
  return name.startsWith('hidden.')
    ? 'hidden'
    : name.startsWith('mlp.')
      ? 'mlp'
      : name.endsWith('.pattern')
        ? 'pattern'
        : 'v';
}

/** Copy row `row` of a batch tensor [batch, ...], cutting its position axes from `padded` to `length`. */
export function sliceRow(
  data: Float32Array,
  dims: readonly number[],
  row: number,
  padded: number,
  length: number,
  sequenceAxes: number[],
): Activation {
  const inner = dims.slice(1);
  const per = inner.reduce((a, b) => a * b, 1);
  const base = data.subarray(row * per, (row + 1) * per);
  if (length === padded) return { data: base.slice(), dims: inner };
  const out = inner.map((d, i) => (sequenceAxes.includes(i) && d === padded ? length : d));
  const strides = inner.map((_, i) => inner.slice(i + 1).reduce((a, b) => a * b, 1));
  const result = new Float32Array(out.reduce((a, b) => a * b, 1));
  const index = new Array(out.length).fill(0);
  for (let k = 0; k < result.length; k++) {
    result[k] = base[index.reduce((s, v, i) => s + v * strides[i], 0)];
    for (let a = out.length - 1; a >= 0 && ++index[a] === out[a]; a--) index[a] = 0;
  }
  return { data: result, dims: out };
}

/** The instrumented graph's output that carries a hook. */
async function outputOf(model: Model, name: HookName): Promise<string> {
  const { outputs } = await model.instrumented();
  const layer = Number(/\d+/.exec(name)![0]);
  const found = {
    hidden: outputs.hiddenStates,
    mlp: outputs.mlp,
    pattern: outputs.attentions,
    v: outputs.values,
  }[kindOf(name)]![layer];
  if (!found) throw usageError(`'${model.id}' has no activation ${name}`);
  return found;
}

/**
 * Run sequences through the instrumented graph, batched like every other run, and keep the named
 * activations of each (the one activation API: attention, concepts and bias all read through it).
 */
export async function runWithCache(
  model: Model,
  sequences: readonly (readonly number[])[],
  names: readonly HookName[],
  run?: RunContext,
): Promise<ActivationCache[]> {
  const inst = await model.instrumented();
  const outputs = await Promise.all(names.map((n) => outputOf(model, n)));
  return runBatched(
    model,
    sequences,
    (batch, row, i) => {
      const entries = new Map<HookName, Activation>();
      names.forEach((name, k) => {
        const { data, dims } = batch.output(outputs[k]);
        entries.set(name, sliceRow(data, dims, row, batch.length, sequences[i].length, SEQUENCE_AXES[kindOf(name)]));
      });
      return new ActivationCache(entries);
    },
    { session: inst.session, outputs: [...new Set(outputs)], run },
  );
}
