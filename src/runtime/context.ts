import type * as ort from 'onnxruntime-node';

/**
 * What one call (one explanation, one request) ran: forward passes (sequences), session runs (batches)
 * and the sequences among them that also ran backward. It belongs to the call, never to the shared
 * model, so that concurrent calls on one model count their own passes.
 */
export class RunContext {
  forward = 0;
  batches = 0;
  backward = 0;

  /** `observe` wraps every session this call runs (bench records the runs to replay them). */
  constructor(
    readonly observe?: (session: ort.InferenceSession) => ort.InferenceSession,
    private readonly parent?: RunContext,
  ) {}

  /** The session to run: the observed one where an observer is set. */
  session(session: ort.InferenceSession): ort.InferenceSession {
    return this.observe ? this.observe(session) : session;
  }

  /** One session run of `sequences` rows, `backward` of them also backward. Counted here and in every parent. */
  count(sequences: number, backward = 0): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the walk up the parents starts here
    for (let c: RunContext | undefined = this; c; c = c.parent) {
      c.forward += sequences;
      c.batches += 1;
      c.backward += backward;
    }
  }

  /** A count of its own for a part of this call (one method of several); it adds to this one too. */
  child(): RunContext {
    return new RunContext(this.observe, this);
  }
}
