/**
 * What a probe run learns of each tensor, shared by the autodiff, its rule table and the probe: it sits below
 * all three so that none imports another for the vocabulary.
 */

/** A tensor's dims as seen on probe runs: a number where fixed, null where it follows batch or sequence length. */
export type Shape = (number | null)[];
export interface TensorFacts {
  shape: Shape;
  /** ONNX DataType. */
  type: number;
}
