import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

/**
 * The door's tensors and sessions as the rest of the code sees them: runtime/ alone imports onnxruntime,
 * builds its tensors and runs its sessions (a layering test keeps it so).
 */

/** An open onnxruntime session. */
export type Session = ort.InferenceSession;
/** A tensor fed to a session or read from it. */
export type OrtTensor = ort.Tensor;
/** A session's inputs, by name. */
export type Feeds = Record<string, OrtTensor>;
/** A session's outputs, by name. */
export type Outputs = ort.InferenceSession.OnnxValueMapType;

/** A float tensor, float32 or float16 (its bits in a Uint16Array), of the given dims. */
export function floatTensor(data: Float32Array, dims: readonly number[]): OrtTensor;
export function floatTensor(
  data: Float32Array | Uint16Array,
  dims: readonly number[],
  type: 'float32' | 'float16',
): OrtTensor;
export function floatTensor(
  data: Float32Array | Uint16Array,
  dims: readonly number[],
  type: 'float32' | 'float16' = 'float32',
): OrtTensor {
  return new ort.Tensor(type, data, dims);
}

/** An int64 tensor of the given dims. */
export const int64Tensor = (data: BigInt64Array, dims: readonly number[]): OrtTensor =>
  new ort.Tensor('int64', data, dims);

/** An int32 tensor of the given dims. */
export const int32Tensor = (data: Int32Array, dims: readonly number[]): OrtTensor =>
  new ort.Tensor('int32', data, dims);

/** Run a session on `feeds` for the outputs named in `fetches`. */
export function runSession(session: Session, feeds: Feeds, fetches: readonly string[]): Promise<Outputs> {
  return session.run(feeds, fetches as string[]);
}

/** Free the native memory of a run's outputs once they have been read. */
export function disposeOutputs(out: Outputs): void {
  for (const tensor of Object.values(out)) (tensor as OrtTensor).dispose?.();
}

/** The onnxruntime-node version this build runs (bench reports it beside its timings). */
export function onnxruntimeVersion(): string {
  return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
}

/** A bool tensor of one element ([1]), as a merged decoder's use_cache_branch. */
export const boolTensor = (value: boolean): OrtTensor => new ort.Tensor('bool', new Uint8Array([value ? 1 : 0]), [1]);
