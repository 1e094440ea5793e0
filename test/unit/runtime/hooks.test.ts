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
import { runWithHooks, type HookContext, type Site, type Tensor } from '../../../src/runtime/hooks.js';
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

    it('reads a head output as the patching graph computes it', async () => {
      const ids = seqs[0];
      const [hooked] = await runWithHooks(model, [ids], { read: ['embed', 'layer.1.attn.head.1.out'] });
      const embed = hooked.cache.get('embed').data;
      const [plain] = await runPatchedHeads(model, ids, embed, [], null, [], new RunContext());
      const [, T, d] = plain.heads[1].dims; // [head, query, d_head]
      expect(hooked.cache.get('layer.1.attn.head.1.out').dims).toEqual([T, d]);
      const slice = plain.heads[1].data.subarray(T * d, 2 * T * d);
      hooked.cache.get('layer.1.attn.head.1.out').data.forEach((v, k) => expect(v).toBeCloseTo(slice[k], 5));
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

    it("a head written at one position runs as patch's restoration graph runs it", async () => {
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
