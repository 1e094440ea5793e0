import { afterEach, describe, expect, it, vi } from 'vitest';
import { attention, explain, lens, patch } from '../../../src/api/capabilities.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { derivedOnce, heldForOperation, releasedAfter } from '../../../src/runtime/derived.js';
import { openSessions } from '../../../src/runtime/session.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

let graphs = 0;
/** A model of `mb` MB as derived.ts sees one: a graph id of its own and its weights' size. */
const fakeModel = (mb: number) => ({ graphId: `fake-${++graphs}`, weightBytes: mb * 2 ** 20 }) as Model;

/** A derived thing that counts its builds and releases. */
function counted() {
  const counts = { built: 0, released: 0 };
  const build = async () => {
    counts.built++;
    return {
      released: false,
      async release() {
        this.released = true;
        counts.released++;
      },
    };
  };
  return { counts, build };
}

/** A promise and the function that settles it. */
function gate() {
  let open!: () => void;
  const closed = new Promise<void>((resolve) => (open = resolve));
  return { closed, open };
}

describe('derived sessions of a large model are held by the operations using them', () => {
  it('one operation: released at its end over the threshold, kept under it', async () => {
    const large = counted();
    const small = counted();
    const [big, little] = [fakeModel(300), fakeModel(200)];
    await heldForOperation(async () => {
      await derivedOnce(big, 'k', large.build);
      await derivedOnce(big, 'k', large.build);
      await derivedOnce(little, 'k', small.build);
    });
    expect(large.counts).toEqual({ built: 1, released: 1 });
    expect(small.counts).toEqual({ built: 1, released: 0 });
    // Built afresh by the next operation, kept for the process under the threshold.
    await heldForOperation(async () => {
      await derivedOnce(big, 'k', large.build);
      await derivedOnce(little, 'k', small.build);
    });
    expect(large.counts).toEqual({ built: 2, released: 2 });
    expect(small.counts).toEqual({ built: 1, released: 0 });
  });

  it('is never released under an operation that still uses it, and is shared with it meanwhile', async () => {
    const { counts, build } = counted();
    const model = fakeModel(1000);
    const [first, second] = [gate(), gate()];
    let seen: { released: boolean } | undefined;
    const a = heldForOperation(async () => {
      await derivedOnce(model, 'k', build);
      await first.closed;
    });
    const b = heldForOperation(async () => {
      seen = await derivedOnce(model, 'k', build);
      await second.closed;
      return seen.released;
    });
    first.open();
    await a;
    expect(counts).toEqual({ built: 1, released: 0 });
    // A third operation meanwhile shares it rather than building a second copy.
    await heldForOperation(() => derivedOnce(model, 'k', build));
    expect(counts).toEqual({ built: 1, released: 0 });
    second.open();
    expect(await b).toBe(false);
    expect(counts).toEqual({ built: 1, released: 1 });
    expect(seen!.released).toBe(true);
  });

  it('is released after an operation that failed', async () => {
    const { counts, build } = counted();
    const model = fakeModel(1000);
    const failing = heldForOperation(async () => {
      await derivedOnce(model, 'k', build);
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(counts).toEqual({ built: 1, released: 1 });
  });

  it('used outside any operation, it is kept for the process (nothing tells when that caller is done)', async () => {
    const { counts, build } = counted();
    const model = fakeModel(1000);
    const during = gate();
    const op = heldForOperation(async () => {
      await derivedOnce(model, 'k', build);
      await during.closed;
    });
    await derivedOnce(model, 'k', build);
    during.open();
    await op;
    expect(counts).toEqual({ built: 1, released: 0 });
  });

  it('releasedAfter inside an operation releases what it built, not what the operation held before', async () => {
    const before = counted();
    const inner = counted();
    const model = fakeModel(1);
    await heldForOperation(async () => {
      await derivedOnce(model, 'before', before.build);
      await releasedAfter(async () => {
        await derivedOnce(model, 'before', before.build);
        await derivedOnce(model, 'inner', inner.build);
      });
      expect(inner.counts).toEqual({ built: 1, released: 1 });
      expect(before.counts).toEqual({ built: 1, released: 0 });
    });
    expect(before.counts).toEqual({ built: 1, released: 0 });
  });

  it('$INTERP_DERIVED_KEEP_MB sets the threshold, and a bad one is a usage error before any work', async () => {
    const { counts, build } = counted();
    const model = fakeModel(2);
    vi.stubEnv('INTERP_DERIVED_KEEP_MB', '1');
    await heldForOperation(() => derivedOnce(model, 'k', build));
    expect(counts).toEqual({ built: 1, released: 1 });
    vi.stubEnv('INTERP_DERIVED_KEEP_MB', '-1');
    const work = vi.fn(async () => 0);
    await expect(heldForOperation(work)).rejects.toThrow(
      "INTERP_DERIVED_KEEP_MB must be an integer from 0 to 1000000, got '-1'",
    );
    expect(work).not.toHaveBeenCalled();
  });
});

describe('a long-lived process running operations in turn on one model', () => {
  const text = 'the cat sat on the mat';
  const sequence = async (model: Model) => {
    await explain(model, text, { method: 'integrated-gradients' });
    await attention(model, text);
    await lens(model, text);
    await patch(model, text, { corrupted: 'the dog sat on the mat' });
  };

  it('holds only its scoring session after each operation when the model counts as large', async () => {
    vi.stubEnv('INTERP_DERIVED_KEEP_MB', '0');
    const model = await loadModel('tiny-lm');
    const before = openSessions().open;
    await sequence(model);
    const after = openSessions();
    expect(after.open).toBe(before);
    // The IG, instrumented, lens and patch sessions were opened, but never all at once.
    expect(after.most - before).toBeGreaterThan(0);
    expect(after.most - before).toBeLessThan(4);
  }, 60_000);

  it('keeps its derived sessions for the process when the model is small (the default threshold)', async () => {
    const model = await loadModel('tiny-lm');
    const before = openSessions().open;
    await sequence(model);
    const kept = openSessions().open - before;
    expect(kept).toBeGreaterThanOrEqual(3);
    await sequence(model);
    expect(openSessions().open - before).toBe(kept);
  }, 60_000);
});
