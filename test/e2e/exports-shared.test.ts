import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFloat16Copy, writeQuantizedCopy } from '../../fixtures/exports.js';
import { writeGenAiCopy } from '../../fixtures/genai.js';
import { llama, runCli, skipWithoutShared, tempDir } from '../helpers.js';
import { gpt2NoBos } from '../support/gpt2.js';

const gpt2Dir = gpt2NoBos();

describe.skipIf(skipWithoutShared)('the CLI on a GPT-2 export without BOS and on its q8 copy', () => {
  it('explain with default flags exits 0: <|endoftext|> leads as a special token, and removing every word leaves a real baseline', async () => {
    const r = await runCli(['explain', 'the movie was', '--model', gpt2Dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.tokens[0]).toMatchObject({ id: 50256, special: true });
    expect(doc.features.map((f: { text: string }) => f.text.trim())).toEqual(['the', 'movie', 'was']);
    expect(Math.abs(doc.fullScore - doc.baselineScore)).toBeGreaterThan(1e-4);
  });

  it('--dtype q8 takes gradients on the dequantized shadow and says how far its logits are', async () => {
    const q8 = writeQuantizedCopy(gpt2Dir, path.join(tempDir('interp-gpt2-q8-'), 'q8'));
    const r = await runCli([
      'explain',
      'the movie was',
      '--model',
      q8,
      '--dtype',
      'q8',
      '--method',
      'integrated-gradients',
      '--steps',
      '64',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.diagnostics.graph).toBe('dequantized shadow');
    expect(doc.diagnostics.shadowLogitDifference).toBeGreaterThan(0);
    expect(doc.completeness.relativeError).toBeLessThan(0.01);
    expect(doc.forwardPasses).toBeLessThanOrEqual(doc.declaredCost);
  });
});

describe.skipIf(skipWithoutShared)('the CLI on the GenAI builder fp16 form of the shared Llama', () => {
  it('--dtype fp16 with float16 logits and KV cache: IG on the float32 shadow is complete, and attention rows sum to 1', async () => {
    const root = tempDir('interp-genai-fp16-cli-');
    const dir = writeFloat16Copy(writeGenAiCopy(llama, path.join(root, 'genai')), path.join(root, 'fp16'), 'float16');
    const ig = await runCli([
      'explain',
      'Once upon a time',
      '--model',
      dir,
      '--dtype',
      'fp16',
      '--method',
      'integrated-gradients',
      '--steps',
      '64',
      '--baseline',
      'pad',
      '--json',
    ]);
    expect(ig.code, ig.stderr).toBe(0);
    const doc = JSON.parse(ig.stdout);
    expect(doc.diagnostics.graph).toBe('dequantized shadow');
    expect(doc.diagnostics.shadowLogitDifference).toBeGreaterThan(0);
    expect(doc.diagnostics.shadowLogitDifference).toBeLessThan(2e-2);
    expect(doc.completeness.relativeError).toBeLessThan(0.01);
    const attention = await runCli(['attention', 'Once upon a time', '--model', dir, '--dtype', 'fp16', '--json']);
    expect(attention.code, attention.stderr).toBe(0);
    const layers = JSON.parse(attention.stdout).layers as number[][][][];
    expect(layers).toHaveLength(5);
    for (const row of layers.flat(2)) expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-3);
  });
});
