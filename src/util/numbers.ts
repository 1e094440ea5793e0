import { usageError } from '../errors.js';

/**
 * The one reader of numbers that users type, for flags and the environment variables that stand for them:
 * decimal only (no hex, exponent or trailing junk in an integer), and always within declared bounds.
 */

/** An integer within its declared bounds: every integer parameter has both, so nothing can run away. */
export function parseInteger(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^[-+]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max)
    throw usageError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return value;
}

export const optionalInteger = (name: string, raw: string | undefined, min: number, max: number) =>
  raw === undefined ? undefined : parseInteger(name, raw, min, max);

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** A number; where the parameter itself sets the bounds they are checked here (method parameters: in the core). */
export function parseNumber(name: string, raw: string, min = -Infinity, max = Infinity): number {
  const value = Number(raw);
  // Number() also reads hex, octal and binary literals ('0x20' is 32); a typed number is decimal.
  if (!DECIMAL.test(raw.trim()) || !Number.isFinite(value))
    throw usageError(`${name} must be a decimal number, got '${raw}'`);
  if (value < min || value > max) throw usageError(`${name} must be a number from ${min} to ${max}, got '${raw}'`);
  return value;
}

/** A comma-separated list of values read by `parse` (each bounded there), at most `maxItems` of them. */
export function parseList(
  name: string,
  raw: string,
  parse: (name: string, raw: string) => number,
  maxItems: number,
): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length > maxItems) throw usageError(`${name} takes at most ${maxItems} values, got ${parts.length}`);
  return parts.map((part) => parse(name, part));
}
