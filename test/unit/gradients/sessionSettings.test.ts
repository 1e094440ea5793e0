import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { gradientSession } from '../../../src/gradients/session.js';
import { loadModel } from '../../../src/model/load.js';
import { sessionOptions } from '../../../src/runtime/session.js';

describe('gradient session settings', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sessionOptions turns the memory pattern off only when asked', () => {
    expect(sessionOptions({ memoryPattern: false }).enableMemPattern).toBe(false);
    expect(sessionOptions({}).enableMemPattern).toBeUndefined();
    expect(sessionOptions({ memoryPattern: true }).enableMemPattern).toBeUndefined();
  });

  it('the gradient session opens without the memory pattern and without packed weights', async () => {
    const model = await loadModel(writePlanted(additiveClassifier()));
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const gs = await gradientSession(model, { kind: 'embeddings' }, 'logit');
    expect(gs.session).toBeDefined();
    const options = create.mock.calls.map((c) => c[1] as ort.InferenceSession.SessionOptions);
    expect(options.length).toBeGreaterThan(0);
    const last = options[options.length - 1];
    expect(last.enableMemPattern).toBe(false);
    expect((last as { extra?: { session?: Record<string, string> } }).extra?.session?.disable_prepacking).toBe('1');
  });
});
