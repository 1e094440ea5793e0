import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';
import { importCycles, importGraph, ortImporters, upwardImports, type ImportGraph } from '../support/layering.js';

/**
 * The layers, bottom up (../shared/DESIGN.md): a file may import from its own layer or any below it, never
 * from above. Files within one layer may import each other as long as no cycle forms.
 */
const LAYERS = [
  ['src/util', 'src/errors.ts', 'src/deploy'],
  ['src/onnx', 'src/data'],
  ['src/runtime'],
  ['src/model'],
  ['src/text'],
  // The planted additive classifier that check-method runs methods on: built from the graph builder and a tokenizer.
  ['src/planted'],
  ['src/target'],
  ['src/masking'],
  // The attention maths and the method contract sit below the gradient sessions that both serve.
  ['src/attention/analysis.ts'],
  ['src/methods/types.ts'],
  ['src/gradients'],
  // The hook door runs a loaded model, and its gradients at a site come from the gradient sessions.
  ['src/runtime/hooks.ts', 'src/runtime/sites.ts', 'src/runtime/gradientsAt.ts'],
  ['src/methods', 'src/metrics'],
  // Summary vocabulary (claims) sits below every report that states claims.
  ['src/summary/claims.ts'],
  ['src/attention'],
  ['src/explain.ts'],
  [
    'src/concepts',
    'src/counterfactual',
    'src/comparison.ts',
    'src/generate.ts',
    'src/bias',
    'src/chain',
    'src/explore.ts',
    'src/decoding.ts',
    'src/sampling.ts',
    'src/patch',
    'src/circuit',
    'src/steer.ts',
    'src/knowledge',
    // Encoder-decoder models: the encoder and decoder runs, greedy generation, and their attribution.
    'src/seq2seq',
  ],
  // interp test judges behaviour from readings and reasons from explanations, and removes words as counterfactuals edit them.
  ['src/hypothesis'],
  // The adversary of explanations searches edits as counterfactuals do, and fidelity records what it finds.
  ['src/robustness'],
  ['src/fidelity'],
  ['src/benchModel', 'src/bench.ts'],
  ['src/summary'],
  // The page report is data that render/html.ts draws.
  ['src/report'],
  ['src/render'],
  // Plugins fill the registries of methods, targets and groupings; the library API sits on every capability.
  ['src/plugins.ts'],
  // The conformance checks run a method through explain and a target through its graph head, as a plugin's would.
  ['src/methods/conformance.ts', 'src/target/agreement.ts'],
  // The operations' vocabulary, and the request fields read off a command's definition, sit below every front end.
  ['src/api/operation.ts', 'src/api/fields.ts', 'src/api/options.ts'],
  ['commands', 'server'],
  // The library is the third front end: its functions call the operations that the commands define (with
  // their flags, so that no front end drifts), as the CLI and the server do.
  ['src/api', 'src/index.ts'],
];

/**
 * Imports that break the layering today, each to be removed by moving code or vocabulary down (issue 29).
 * The test fails on any upward import not listed, and on a listed one that is gone, so the list only shrinks.
 */
const KNOWN_UPWARD: string[] = [];
const KNOWN_CYCLES: string[][] = [];

const graph = importGraph(repoRoot, ['src', 'commands', 'server']);

describe('layering', () => {
  it('no import runs from a lower layer to a higher one, type-only imports included', () => {
    expect(upwardImports(graph, LAYERS)).toEqual(KNOWN_UPWARD);
  });

  it('no import cycle, type-only imports included', () => {
    expect(importCycles(graph)).toEqual(KNOWN_CYCLES);
  });

  it('the checks find a planted upward import and a planted cycle', () => {
    const planted: ImportGraph = new Map([
      ['src/util/maths.ts', ['src/onnx/graph.ts']],
      ['src/onnx/graph.ts', ['src/util/maths.ts', 'src/runtime/session.ts']],
      ['src/runtime/session.ts', []],
      ['src/model/types.ts', ['src/runtime/session.ts']],
    ]);
    expect(upwardImports(planted, LAYERS)).toEqual([
      'src/onnx/graph.ts → src/runtime/session.ts',
      'src/util/maths.ts → src/onnx/graph.ts',
    ]);
    expect(importCycles(planted)).toEqual([['src/onnx/graph.ts', 'src/util/maths.ts']]);
    expect(upwardImports(new Map([['src/nowhere/x.ts', []]]), LAYERS)).toEqual(['src/nowhere/x.ts is in no layer']);
  });

  it('only src/runtime/ imports onnxruntime-node (and so builds its tensors and runs its sessions)', () => {
    expect(ortImporters(repoRoot, ['src', 'commands', 'server']).filter((f) => !f.startsWith('src/runtime/'))).toEqual(
      [],
    );
    // The check finds an import where there is one.
    expect(ortImporters(repoRoot, ['src/runtime'])).toContain('src/runtime/tensor.ts');
  });
});
