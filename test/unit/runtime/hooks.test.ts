import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeOptimizedCopy } from '../../../fixtures/exports.js';
import { writeGenAiCopy } from '../../../fixtures/genai.js';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { runPatchedHeads } from '../../../src/patch/heads.js';
import { runWithCache, type HookName } from '../../../src/runtime/activations.js';
import { RunContext } from '../../../src/runtime/context.js';
import { gradientsAt, type GradientSite } from '../../../src/runtime/gradientsAt.js';
import { rowsPerBatch } from '../../../src/runtime/runBatched.js';
import {
  mixWith,
  replaceWith,
  runWithHooks,
  selectWith,
  type HookContext,
  type Site,
  type Tensor,
} from '../../../src/runtime/hooks.js';
import { logProbAt, resolveTarget } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { Rng } from '../../../src/util/rng.js';
import { repoRoot, tempDir } from '../../helpers.js';

const TINY = path.join(repoRoot, 'models', 'tiny-lm');
const identity = (v: Tensor) => v;

/** Each site against the activation runWithCache reads for it. */
const SAME_AS: [Site, HookName][] = [
  ['embed', 'hidden.0'],
  ['layer.0.resid.pre', 'hidden.0'],
  ['layer.0.resid.post', 'hidden.1'],
  ['layer.1.resid.pre', 'hidden.1'],
  ['layer.1.resid.post', 'hidden.2'],
  ['layer.0.mlp.act', 'mlp.0'],
  ['layer.1.mlp.act', 'mlp.1'],
  ['layer.0.attn.pattern', 'attn.0.pattern'],
];

function checkForm(name: string, open: () => Promise<Model>) {
  describe(`runWithHooks on ${name}`, () => {
    let model: Model;
    let seqs: number[][];
    beforeAll(async () => {
      model = await open();
      seqs = [encodeText(model, 'the film was').ids, encodeText(model, 'the film was a long and quiet one').ids];
    });

    it('reads what the activation reader reads, row by row at each sequence length', async () => {
      const hooked = await runWithHooks(model, seqs, { read: SAME_AS.map(([s]) => s) });
      const cached = await runWithCache(model, seqs, [...new Set(SAME_AS.map(([, h]) => h))]);
      seqs.forEach((ids, i) => {
        for (const [site, hook] of SAME_AS) {
          expect(hooked[i].cache.get(site).dims, site).toEqual(cached[i].get(hook).dims);
          expect(hooked[i].cache.get(site).data, site).toEqual(cached[i].get(hook).data);
        }
        expect(hooked[i].cache.get('layer.0.mlp.act').dims[0]).toBe(ids.length); // [position, d_mlp]
      });
    });

    it("reads a head output as its slice of the layer's heads, and as the patching graph computes it", async () => {
      const ids = seqs[1];
      const [hooked] = await runWithHooks(model, seqs, {
        read: ['embed', 'layer.1.attn.head.1.out', 'layer.1.attn.heads.out'],
      });
      const heads = hooked.cache.get('layer.1.attn.heads.out');
      const [H, T, d] = heads.dims; // [head, position, d_head], at the row's own length
      expect([H > 1, T]).toEqual([true, seqs[0].length]);
      expect(hooked.cache.get('layer.1.attn.head.1.out').dims).toEqual([T, d]);
      expect(hooked.cache.get('layer.1.attn.head.1.out').data).toEqual(heads.data.slice(T * d, 2 * T * d));
      const [alone] = await runWithHooks(model, [ids], { read: ['embed'] });
      const [plain] = await runPatchedHeads(model, ids, alone.cache.get('embed').data, [], null, [], new RunContext());
      const [longer] = await runWithHooks(model, [ids], { read: ['layer.1.attn.heads.out'] });
      const gap = plain.heads[1].data.reduce(
        (m, v, k) => Math.max(m, Math.abs(v - longer.cache.get('layer.1.attn.heads.out').data[k])),
        0,
      );
      expect(gap).toBeLessThan(1e-5);
      await expect(runWithHooks(model, [ids], { read: [`layer.1.attn.head.${H}.out`] })).rejects.toThrow(
        new RegExp(`no hook site layer\\.1\\.attn\\.head\\.${H}\\.out: its layer has ${H} heads`),
      );
    });

    it('an identity write at every kind of site gives back the unhooked output exactly', async () => {
      const sites: Site[] = ['embed', 'layer.0.attn.head.0.out', 'layer.0.mlp.act', 'layer.1.resid.pre'];
      const plain = await runWithHooks(model, seqs);
      const called: string[] = [];
      const spy = (v: Tensor, ctx: HookContext) => (called.push(`${ctx.site} [${v.dims}]`), identity(v));
      const hooked = await runWithHooks(model, seqs, { write: Object.fromEntries(sites.map((s) => [s, spy])) });
      // One batch of both rows, padded to the longer: each hook saw [batch, position, width].
      expect(called.map((c) => c.split(' ')[0])).toEqual(sites);
      called.forEach((c) => expect(c).toMatch(new RegExp(`\\[2,${seqs[1].length},\\d+\\]$`)));
      seqs.forEach((_, i) => expect(hooked[i].logits.data).toEqual(plain[i].logits.data));
      expect(plain[1].logits.dims).toEqual([seqs[1].length, model.config.vocab_size]);
    });

    it('a head mixed in the graph at one position (patch --heads) runs as a staged write of it', async () => {
      const ids = seqs[1];
      const [clean] = await runWithHooks(model, [ids], { read: ['embed'] });
      const noisy = clean.cache.get('embed').data.map((v, k) => v + 0.5 * Math.sin(k));
      const [base] = await runPatchedHeads(model, ids, clean.cache.get('embed').data, [], null, [], new RunContext());
      const shapes = base.heads.map((h) => [...h.dims]);
      const [T, d] = [shapes[1][1], shapes[1][2]];
      const restore = { layer: 1, head: 1, position: 2 };
      const [want] = await runPatchedHeads(
        model,
        ids,
        noisy,
        [restore],
        base.heads.map((h) => h.data),
        shapes,
        new RunContext(),
      );
      const [got] = await runWithHooks(model, [ids], {
        write: {
          embed: (v) => ({ data: noisy, dims: v.dims }),
          'layer.1.attn.head.1.out': (v) => {
            const from = base.heads[1].data.subarray((T + 2) * d, (T + 3) * d);
            v.data.set(from, 2 * d); // [batch, position, d_head]
            return v;
          },
        },
      });
      const gap = got.logits.data.reduce((m, x, k) => Math.max(m, Math.abs(x - want.logits[k])), 0);
      expect(gap).toBeLessThan(1e-4);
      const [unrestored] = await runWithHooks(model, [ids], {
        write: { embed: (v) => ({ data: noisy, dims: v.dims }) },
      });
      expect(unrestored.logits.data.reduce((m, x, k) => Math.max(m, Math.abs(x - want.logits[k])), 0)).toBeGreaterThan(
        1e-3,
      );
    });

    it("mixWith: mixed in the graph at a layer's heads as in JavaScript at one head", async () => {
      const ids = seqs[1];
      const T = ids.length;
      const [plain] = await runWithHooks(model, [ids], { read: ['layer.1.attn.heads.out'] });
      const heads = plain.cache.get('layer.1.attn.heads.out');
      const [H, , d] = heads.dims;
      const value = { data: heads.data.map((v) => 0.5 - 3 * v), dims: [1, H, T, d] }; // [batch, head, position, d_head]
      const mask = new Float32Array(H * T);
      mask[T + 2] = 1; // head 1, position 2
      const inGraph = mixWith(() => ({ mask: { data: mask, dims: [1, H, T, 1] }, value }));
      const one = { data: value.data.slice(T * d, 2 * T * d), dims: [1, T, d] };
      const inJs = mixWith(() => ({ mask: { data: mask.slice(T, 2 * T), dims: [1, T, 1] }, value: one }));
      const read: Site[] = ['layer.1.attn.head.1.out', 'layer.1.attn.head.0.out'];
      const [a] = await runWithHooks(model, [ids], { write: { 'layer.1.attn.heads.out': inGraph }, read });
      const [b] = await runWithHooks(model, [ids], { write: { 'layer.1.attn.head.1.out': inJs }, read });
      for (const r of [a, b]) {
        const head = r.cache.get('layer.1.attn.head.1.out').data;
        head.forEach((v, k) => expect(v).toBeCloseTo(Math.floor(k / d) === 2 ? one.data[k] : heads.data[T * d + k], 5));
        expect(r.cache.get('layer.1.attn.head.0.out').data).toEqual(heads.data.slice(0, T * d));
      }
      const gap = (x: Float32Array, y: Float32Array) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
      expect(gap(a.logits.data, b.logits.data)).toBeLessThan(1e-4);
      const [unhooked] = await runWithHooks(model, [ids]);
      expect(gap(a.logits.data, unhooked.logits.data)).toBeGreaterThan(1e-3);
    });

    it('selectWith: per row, the chosen heads take the value bit for bit and the rest keep their own', async () => {
      const ids = seqs[1];
      const T = ids.length;
      const [plain] = await runWithHooks(model, [ids], { read: ['layer.1.attn.heads.out'] });
      const heads = plain.cache.get('layer.1.attn.heads.out');
      const [H, , d] = heads.dims;
      const value = { data: heads.data.map((v) => 0.5 - 3 * v), dims: [1, H, T, d] }; // [batch, head, position, d_head]
      const mask = new Float32Array(2 * H);
      mask[1] = 1; // row 0: head 1; row 1: none
      const select = selectWith(({ start, end }) => ({
        mask: { data: mask.slice(start * H, end * H), dims: [end - start, H, 1, 1] },
        value,
      }));
      const read: Site[] = ['layer.1.attn.head.1.out', 'layer.1.attn.head.0.out'];
      const [a, b] = await runWithHooks(model, [ids, ids], { write: { 'layer.1.attn.heads.out': select }, read });
      expect(a.cache.get('layer.1.attn.head.1.out').data).toEqual(value.data.slice(T * d, 2 * T * d));
      expect(a.cache.get('layer.1.attn.head.0.out').data).toEqual(heads.data.slice(0, T * d));
      expect(b.cache.get('layer.1.attn.head.1.out').data).toEqual(heads.data.slice(T * d, 2 * T * d));
      // The same replacement written in JavaScript, through the staged run.
      const one = value.data.slice(T * d, 2 * T * d);
      const [js] = await runWithHooks(model, [ids], {
        write: { 'layer.1.attn.head.1.out': (v) => ({ data: one, dims: v.dims }) },
      });
      const [unhooked] = await runWithHooks(model, [ids]);
      const gap = (x: Float32Array, y: Float32Array) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
      expect(gap(a.logits.data, js.logits.data)).toBeLessThan(1e-5);
      expect(gap(b.logits.data, unhooked.logits.data)).toBeLessThan(1e-5);
      expect(gap(a.logits.data, unhooked.logits.data)).toBeGreaterThan(1e-3);
    });

    it('gradientsAt equals central finite differences of a write hook', async () => {
      const ids = seqs[0];
      const target = await resolveTarget(model, ids, {}, 'the film was');
      if (target.kind !== 'next-token') throw new Error('expected a next-token target');
      const V = model.config.vocab_size as number;
      const score = async (site: Site, u: Float32Array, eps: number) => {
        const write = { [site]: (v: Tensor) => ({ data: v.data.map((x, k) => x + eps * u[k]), dims: v.dims }) };
        const [r] = await runWithHooks(model, [ids], { write });
        return logProbAt(r.logits.data, (ids.length - 1) * V, V, target.tokenId as number);
      };
      const sites: GradientSite[] = ['layer.0.mlp.act', 'layer.1.resid.pre', 'embed'];
      const [g] = await gradientsAt(model, [ids], sites, target);
      const rng = new Rng(7);
      for (const site of sites) {
        const grad = g.gradients.get(site).data;
        const raw = Array.from(grad, () => rng.normal());
        const norm = Math.hypot(...raw);
        const u = Float32Array.from(raw, (x) => x / norm); // a unit direction: the step's size is eps
        const eps = 1e-2;
        const fd = ((await score(site, u, eps)) - (await score(site, u, -eps))) / (2 * eps);
        const exact = grad.reduce((s, x, k) => s + x * u[k], 0);
        expect(Math.abs(exact), site).toBeGreaterThan(1e-2);
        expect(Math.abs(fd - exact), site).toBeLessThan(2e-4 + 2e-3 * Math.abs(exact));
      }
      const [plain] = await runWithHooks(model, [ids]);
      expect(g.score).toBeCloseTo(logProbAt(plain.logits.data, (ids.length - 1) * V, V, target.tokenId as number), 4);
    });
  });
}

checkForm('the plain export of tiny-lm', () => loadModel(TINY));
checkForm('tiny-lm as onnxruntime optimizes it', async () =>
  loadModel(await writeOptimizedCopy(TINY, path.join(tempDir('interp-hooks-'), 'optimized'))),
);

describe('runWithHooks on the planted induction model', () => {
  it('zeroing the induction head leaves the logits nothing to read', async () => {
    const lm = await loadModel(writePlanted(inductionLM()));
    const ids = encodeText(lm, 'c f a c').ids;
    const [plain] = await runWithHooks(lm, [ids]);
    const [zeroed] = await runWithHooks(lm, [ids], {
      write: { 'layer.1.attn.head.0.out': (v) => ({ data: new Float32Array(v.data.length), dims: v.dims }) },
    });
    expect(Math.max(...plain.logits.data)).toBeGreaterThan(1);
    expect(Math.max(...zeroed.logits.data.map(Math.abs))).toBe(0);
  });

  it('names a site the model does not have', async () => {
    const lm = await loadModel(writePlanted(inductionLM()));
    await expect(runWithHooks(lm, [[2, 3]], { read: ['layer.7.resid.post'] })).rejects.toThrow(/no hook site layer\.7/);
  });
});

const LLAMA = path.join(repoRoot, '..', 'shared', 'models', 'llama-stories260k-kv');
checkForm('the shared grouped-query llama', () => loadModel(LLAMA));
checkForm('the shared llama in GenAI-builder form (GroupQueryAttention, RotaryEmbedding)', () =>
  loadModel(writeGenAiCopy(LLAMA, path.join(tempDir('interp-hooks-'), 'genai'))),
);

describe('runWithHooks: what each row keeps', () => {
  it("logits 'last' is each row's last position; replace hooks over several batches match each row run alone", async () => {
    const model = await loadModel(TINY);
    const ids = encodeText(model, 'a b c d a b').ids;
    const T = ids.length;
    const site: Site = 'layer.0.mlp.act';
    const [clean] = await runWithHooks(model, [ids], { read: [site] });
    const act = clean.cache.get(site); // [position, d_mlp]
    const scaled = (k: number) => act.data.map((x) => x * k);
    // Row r's activation is the clean one times r + 1: each batch's written value is its own rows'.
    const rows = rowsPerBatch(model, T, {}) + 2;
    const write = {
      [site]: replaceWith(({ start, end }) => {
        const data = new Float32Array((end - start) * act.data.length);
        for (let r = start; r < end; r++) data.set(scaled(r + 1), (r - start) * act.data.length);
        return { data, dims: [end - start, ...act.dims] };
      }),
    };
    const all = await runWithHooks(
      model,
      Array.from({ length: rows }, () => ids),
      { write, logits: 'last' },
    );
    for (const r of [0, rows - 3, rows - 2, rows - 1]) {
      const alone = replaceWith(() => ({ data: scaled(r + 1), dims: [1, ...act.dims] }));
      const [one] = await runWithHooks(model, [ids], { write: { [site]: alone } });
      const V = one.logits.dims[1];
      expect(all[r].logits.dims).toEqual([1, V]);
      const last = one.logits.data.subarray((T - 1) * V);
      all[r].logits.data.forEach((x, j) => expect(x).toBeCloseTo(last[j], 4));
    }
  });
});
