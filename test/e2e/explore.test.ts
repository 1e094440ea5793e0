import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../fixtures/planted.js';
import { wordDiff } from '../../src/text/diff.js';
import { llama, runCli, skipWithoutShared } from '../helpers.js';

let lm: string;
beforeAll(() => {
  lm = writePlanted(inductionLM());
});

describe('word diffs', () => {
  it('mark what was removed and inserted, keeping the spacing of what stays', () => {
    expect(wordDiff('the film was a delight', 'the film was not a delight')).toEqual({
      diff: 'the film was {+not+} a delight',
      changed: 1,
    });
    expect(wordDiff('Once upon a time, there', 'One day, there').diff).toBe(
      '[-Once-] [-upon-] [-a-] [-time-] {+One+} {+day+}, there',
    );
  });
});

describe('interp explore', () => {
  it('classifier: label probabilities, a variant equal to the base moves nothing, the one that moves most is named', async () => {
    const r = await runCli([
      ...['explore', 'the film was a delight', '--variant', 'the film was a delight'],
      ...['--variant', 'the film was a bore', '--json'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.schema).toBe('interp/explore@1');
    for (const row of out.rows)
      expect(row.labels.reduce((s: number, l: { probability: number }) => s + l.probability, 0)).toBeCloseTo(1, 6);
    expect(out.rows[1].kl).toBeCloseTo(0, 12);
    expect(out.rows[1].diff).toBe('the film was a delight');
    expect(out.rows[2].diff).toBe('the film was a [-delight-] {+bore+}');
    expect(out.mostMoved).toBe(2);
  });

  it('the planted induction LM copies the token that followed the repeated one: change it, and the prediction follows', async () => {
    const r = await runCli([
      'explore',
      'c f a h k b x q c f a',
      '--model',
      lm,
      '--variant',
      'c f a d k b x q c f a',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [base, variant] = JSON.parse(r.stdout).rows;
    expect(base.next[0].token).toBe('h');
    expect(variant.next[0].token).toBe('d');
    expect(variant.baseTopRank).toBeGreaterThan(1);
    expect(variant.kl).toBeGreaterThan(1);
  });

  it.skipIf(skipWithoutShared)('llama: three variants, KL from the base and greedy continuations diffed', async () => {
    const r = await runCli([
      ...['explore', 'Once upon a time, there was a little', '--model', llama, '--generate', '8', '--json'],
      ...['--variant', 'Once upon a time, there was a big', '--variant', 'One day, there was a little'],
      ...['--variant', 'Once upon a time, there were two little'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.rows).toHaveLength(4);
    expect(out.rows[0].continuation.text).toMatch(/^ ?girl named Lily/);
    expect(out.rows[1].continuation.diff).toMatch(/\[-girl-\]/);
    expect(out.rows[1].kl).toBeGreaterThan(out.rows[2].kl);
  });

  it('bad input: no variants, --generate on a classifier', async () => {
    expect((await runCli(['explore', 'the film'])).code).toBe(2);
    expect((await runCli(['explore', 'the film', '--variant', 'a film', '--generate', '3'])).code).toBe(2);
  });
});
