import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, LM_WORDS, writePlanted } from '../../../fixtures/planted.js';
import { generateGreedy } from '../../../src/generate.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { runWithHooks } from '../../../src/runtime/hooks.js';
import { steer } from '../../../src/steer.js';
import { encodeText } from '../../../src/text/encode.js';
import { tempDir } from '../../helpers.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

/**
 * The planted induction LM reads its prediction off the residual stream's "induction" channels (token i's
 * logit is 10 × channel 2V + i after the last layer): adding a large one-hot there makes it say that token.
 */
describe('steering the planted induction LM', () => {
  let model: Model;
  let dir: string;
  let work: string;
  const V = 3 + LM_WORDS.length;
  const prompt = 'a b c d . a b';
  beforeAll(async () => {
    dir = writePlanted(inductionLM());
    model = await loadModel(dir);
    work = tempDir('interp-steer-');
  });

  it('scale 0 is the unsteered greedy generation; a large push on a token’s channel makes every token that one', async () => {
    const q = model.tokenizer.encode(' q', { add_special_tokens: false })[0];
    const direction = new Array(3 * V).fill(0);
    direction[2 * V + q] = 1;
    const file = path.join(work, 'q.json');
    fs.writeFileSync(file, JSON.stringify(direction));
    const r = await steer(model, {
      prompt,
      site: 'layer.1.resid.post',
      direction: { file },
      scales: [0, 100],
      generate: 5,
    });
    const greedy = await generateGreedy(model, encodeText(model, prompt).ids, 5);
    expect(r.generations[0].text).toBe(model.tokenizer.decode(greedy, { skip_special_tokens: true }));
    expect(r.generations[0].changed).toBe(false);
    expect(r.generations[1].text.trim().split(/\s+/)).toEqual(['q', 'q', 'q', 'q', 'q']);
    expect(r.generations[1].changed).toBe(true);
  });

  it('--from/--to: the mean of the site over the second set less the first, over all their positions', async () => {
    const [from, to] = [path.join(work, 'from.txt'), path.join(work, 'to.txt')];
    fs.writeFileSync(from, 'a b c\nd e\n');
    fs.writeFileSync(to, 'x y\nq r s t\n');
    const site = 'layer.0.resid.post' as const;
    const mean = async (texts: string[]) => {
      const out = await runWithHooks(
        model,
        texts.map((t) => encodeText(model, t).ids),
        { read: [site] },
      );
      const width = out[0].cache.get(site).dims[1];
      const sum = new Float64Array(width);
      let n = 0;
      for (const o of out)
        for (let t = 0; t < o.cache.get(site).dims[0]; t++, n++)
          for (let j = 0; j < width; j++) sum[j] += o.cache.get(site).data[t * width + j];
      return Array.from(sum, (s) => s / n);
    };
    const [a, b] = [await mean(['a b c', 'd e']), await mean(['x y', 'q r s t'])];
    const r = await steer(model, { prompt, site, direction: { from, to }, scales: [0], generate: 1 });
    expect(r.direction.norm).toBeCloseTo(Math.hypot(...b.map((x, j) => x - a[j])), 9);
    expect(r.direction.width).toBe(3 * V);
  });

  it('the CLI refuses a direction of the wrong width, a site it cannot add to, and a half-given prompt pair', async () => {
    const short = path.join(work, 'short.json');
    fs.writeFileSync(short, '[1, 2, 3]');
    const base = ['steer', prompt, '--model', dir];
    expectExit(
      await runInProcess([...base, '--site', 'layer.1.resid.post', '--direction', short]),
      2,
      /--direction has 3 values; layer.1.resid.post is 81 wide/,
    );
    expectExit(
      await runInProcess([...base, '--site', 'layer.0.attn.pattern', '--direction', short]),
      2,
      /--site must be embed, layer.L.resid.pre\|post or layer.L.mlp.act/,
    );
    expectExit(await runInProcess([...base, '--site', 'embed', '--from', short]), 2, /--from and --to go together/);
    expectExit(
      await runInProcess([...base, '--site', 'embed', '--direction', short, '--scale', '1,x']),
      2,
      /--scale must be a decimal number/,
    );
  });
});
