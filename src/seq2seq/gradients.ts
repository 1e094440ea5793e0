import type { Seq2SeqModel } from '../model/seq2seq.js';
import type { GradientContext } from '../methods/types.js';
import type { RuleOverrides } from '../onnx/gradRules.js';
import { runSession, type OrtTensor } from '../runtime/tensor.js';
import { SCORE_OUTPUT } from '../onnx/scoreHead.js';

/** Most source + prefix positions one gradient batch holds (rows × tokens), as the decoder-only runs budget theirs. */
const BATCH_TOKENS = 4096;

/** Rows the gradient graph ran forward and backward (each runs the encoder and the decoder once). */
export interface GradientCount {
  rows: number;
}

/**
 * One step's gradient oracle for the methods of the gradient family: the input is the source's word
 * embeddings then the prefix's, [ns + s, width], every position a unit, and its baseline is the pad token's
 * embedding at every position (what the perturbation methods' pad replacement feeds). Each row's score is
 * log p(target) at the prefix's last position; its gradient, [ns + s, width], is the source's (through the
 * encoder and the cross-attention) then the prefix's.
 */
export async function seq2seqGradients(
  model: Seq2SeqModel,
  source: readonly number[],
  prefix: readonly number[],
  target: number,
  count: GradientCount,
  overrides?: RuleOverrides,
): Promise<GradientContext> {
  // The graph builder (autodiff and its rules) is imported only when a gradient method runs on seq2seq.
  const { gradientFeeds, seq2seqGradientGraph } = await import('./gradientGraph.js');
  const g = await seq2seqGradientGraph(model, overrides);
  const { width } = g;
  const [ns, s] = [source.length, prefix.length];
  const embed = (matrix: typeof g.source, ids: readonly number[], into: Float32Array, at: number) =>
    ids.forEach((id, p) => into.set(matrix.data.subarray(id * width, (id + 1) * width), (at + p) * width));
  const input = new Float32Array((ns + s) * width);
  const baseline = new Float32Array((ns + s) * width);
  embed(g.source, source, input, 0);
  embed(g.prefix, prefix, input, ns);
  embed(g.source, new Array<number>(ns).fill(model.pad), baseline, 0);
  embed(g.prefix, new Array<number>(s).fill(model.pad), baseline, ns);
  const perBatch = Math.max(1, Math.floor(BATCH_TOKENS / (ns + s)));
  const inputs = g.session.inputNames;
  return {
    input,
    baseline,
    width,
    dequantized: g.dequantized,
    async run(rows) {
      const out: { score: number; gradient: Float32Array }[] = [];
      for (let start = 0; start < rows.length; start += perBatch) {
        const batch = rows.slice(start, start + perBatch);
        const B = batch.length;
        const sourceCut = new Float32Array(B * ns * width);
        const prefixCut = new Float32Array(B * s * width);
        batch.forEach((row, r) => {
          sourceCut.set(row.subarray(0, ns * width), r * ns * width);
          prefixCut.set(row.subarray(ns * width), r * s * width);
        });
        const feeds = gradientFeeds(
          model,
          inputs,
          { sourceIds: source, prefixIds: prefix, sourceCut, prefixCut, rows: B, at: s - 1, target },
          width,
        );
        const result = await runSession(g.session, feeds, [SCORE_OUTPUT, ...g.gradients]);
        const data = (name: string) => (result[name] as OrtTensor).data as Float32Array;
        const [score, dSource, dPrefix] = [data(SCORE_OUTPUT), ...g.gradients.map(data)];
        for (let r = 0; r < B; r++) {
          const gradient = new Float32Array((ns + s) * width); // [ns + s, width]
          gradient.set(dSource.subarray(r * ns * width, (r + 1) * ns * width), 0);
          gradient.set(dPrefix.subarray(r * s * width, (r + 1) * s * width), ns * width);
          out.push({ score: score[r], gradient });
        }
        count.rows += B;
      }
      return out;
    },
  };
}
