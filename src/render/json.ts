/** Serialise for stdout: fails loudly on numbers JSON cannot carry, instead of printing null. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) => {
      if (typeof v === 'number' && !Number.isFinite(v))
        throw new Error(`refusing to write a non-finite number (${v}) to JSON`);
      if (v instanceof Float32Array || v instanceof Float64Array) return Array.from(v);
      return v;
    },
    2,
  );
}
