import path from 'node:path';
import { writeGpt2NoBosExport } from '../../fixtures/exports.js';
import { sharedDir, skipWithoutShared, tempDir } from '../helpers.js';

/** A small GPT-2 export without BOS, on the real GPT-2 tokenizer in ../shared (built once per test file). */
let built: string | null = null;
export function gpt2NoBos(): string {
  if (skipWithoutShared) return '';
  built ??= writeGpt2NoBosExport(
    path.join(tempDir('interp-gpt2-'), 'gpt2'),
    path.join(sharedDir, 'models', 'gpt2-tokenizer'),
    {
      layers: 2,
      heads: 4,
      dim: 64,
      positions: 128,
      seed: 3,
    },
  );
  return built;
}
