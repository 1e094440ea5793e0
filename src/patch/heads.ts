import { floatTensor, type Feeds, type Session } from '../runtime/tensor.js';
import { runtimeError } from '../errors.js';
import { readGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { valueInfo } from '../onnx/builder.js';
import { cutAt, CUT_INPUT } from '../onnx/cut.js';
import { headOutputs } from '../onnx/headOutputs.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/proto.js';
import type { RunContext } from '../runtime/context.js';
import { derivedOnce } from '../runtime/derived.js';
import { openGraph } from '../runtime/session.js';
import { runBatched } from '../runner/runBatched.js';

const MASK = (l: number) => `interp.patch.mask.${l}`;
const VALUE = (l: number) => `interp.patch.value.${l}`;

export interface HeadPatchSession {
  session: Session;
  /** The unpatched head outputs, returned for the clean run's values. */
  outputs: string[];
  logits: string;
}

/**
 * The graph cut at the embeddings in which every layer's head outputs can be overwritten: out' = out + mask ·
 * (value − out), with mask [batch, head, query, 1] and value [batch, head, query, headDim] as inputs.
 */
export function headPatchSession(model: Model): Promise<HeadPatchSession> {
  return derivedOnce(model, 'patch|heads', async () => {
    const inst = await model.instrumented();
    const proto = readGraph(model);
    let outs: string[];
    try {
      outs = headOutputs(
        proto,
        inst.structure.layers.map((s) => s.probs),
      );
    } catch (e) {
      throw runtimeError(`'${model.id}': ${(e as Error).message}`);
    }
    const added: NodeProto[] = [];
    const rewired = proto.graph.node.map((n) => ({
      ...n,
      input: n.input.map((i) => (outs.includes(i) ? `${i}.patched` : i)),
    }));
    outs.forEach((o, l) => {
      const node = (op: string, input: string[], output: string): NodeProto => ({
        input,
        output: [output],
        name: `interp_patch_${op}_${l}`,
        opType: op,
        domain: '',
        attribute: [],
      });
      added.push(
        node('Sub', [VALUE(l), o], `${o}.delta`),
        node('Mul', [MASK(l), `${o}.delta`], `${o}.masked`),
        node('Add', [o, `${o}.masked`], `${o}.patched`),
      );
    });
    const inputs = outs.flatMap((_, l) => [valueInfo(MASK(l), DataType.FLOAT), valueInfo(VALUE(l), DataType.FLOAT)]);
    const patched: ModelProto = {
      ...proto,
      graph: {
        ...proto.graph,
        node: [...rewired, ...added],
        input: [...proto.graph.input, ...inputs],
        output: [...proto.graph.output, ...outs.map((o) => valueInfo(o, DataType.FLOAT))],
      },
    };
    const logits = model.signature.logits;
    const cut = cutAt(patched, inst.structure.hiddenStates[0], [logits, ...outs]);
    cut.graph.input.push(...inputs.filter((i) => !cut.graph.input.some((g) => g.name === i.name)));
    try {
      return { session: await openGraph(cut, { threads: model.threads }), outputs: outs, logits };
    } catch (e) {
      throw runtimeError(`cannot patch the heads of '${model.id}': ${(e as Error).message.split('\n')[0]}`);
    }
  });
}

export interface HeadRestoration {
  layer: number;
  head: number;
  position: number;
}

/**
 * Run from the given embeddings, once per restoration, with that one head's output at that one position
 * replaced by its clean value (all other heads as the run computes them); `clean` null runs unpatched and
 * returns the head outputs too. Returns each row's logits [..] and, unpatched, the head outputs [layer].
 */
export async function runPatchedHeads(
  model: Model,
  ids: readonly number[],
  hidden0: Float32Array,
  restorations: HeadRestoration[],
  clean: Float32Array[] | null,
  /** Per layer, a head output's [heads, query, headDim], from the unpatched run. */
  shapes: number[][],
  run: RunContext,
) {
  const hp = await headPatchSession(model);
  const T = ids.length;
  const rows = Math.max(1, restorations.length);
  const D = hidden0.length / T;
  return runBatched(
    model,
    Array.from({ length: rows }, () => ids),
    (batch, r) => {
      const logits = batch.output(hp.logits);
      const per = logits.data.length / batch.rows;
      return {
        logits: logits.data.slice(r * per, (r + 1) * per),
        dims: logits.dims.slice(1),
        heads: clean
          ? []
          : hp.outputs.map((o) => {
              const { data, dims } = batch.output(o);
              const size = dims.slice(1).reduce((a, b) => a * b, 1);
              return { data: data.slice(r * size, (r + 1) * size), dims: dims.slice(1) };
            }),
      };
    },
    {
      session: hp.session,
      outputs: clean ? [hp.logits] : [hp.logits, ...hp.outputs],
      run,
      extraFeeds: (start, end) => {
        const n = end - start;
        const feeds: Feeds = {};
        const cut = new Float32Array(n * T * D);
        for (let r = 0; r < n; r++) cut.set(hidden0, r * T * D);
        feeds[CUT_INPUT] = floatTensor(cut, [n, T, D]);
        hp.outputs.forEach((_, l) => {
          const [H, , d] = shapes[l] ?? [1, T, 1];
          const mask = new Float32Array(n * H * T);
          const value = new Float32Array(n * H * T * d);
          for (let r = 0; r < n; r++) {
            const x = restorations[start + r];
            if (clean && x && x.layer === l) {
              mask[(r * H + x.head) * T + x.position] = 1;
              value.set(clean[l], r * H * T * d);
            }
          }
          feeds[MASK(l)] = floatTensor(mask, [n, H, T, 1]);
          feeds[VALUE(l)] = floatTensor(value, [n, H, T, d]);
        });
        return feeds;
      },
    },
  );
}
