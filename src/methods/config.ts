import { usageFault } from '../errors.js';
import { METHODS } from './registry.js';
import type { AttributionMethod, Family, ParamSpec } from './types.js';

/** A method with its parameters and choices resolved: defaults filled in, every bound checked. */
export interface MethodConfig {
  method: AttributionMethod;
  params: Record<string, number>;
  choices: Record<string, string>;
}

export function methodNamed(name: string): AttributionMethod {
  const method = METHODS[name];
  if (!method) throw usageFault('method', `unknown method '${name}'; choose one of ${Object.keys(METHODS).join(', ')}`);
  return method;
}

/** Names of the registered methods, optionally of some families only. */
export function methodNames(families?: readonly Family[]): string[] {
  return Object.values(METHODS)
    .filter((m) => !families || families.includes(m.family))
    .map((m) => m.name);
}

function checkParam(name: string, spec: ParamSpec, value: number): number {
  const kind = spec.type === 'int' ? 'an integer' : 'a number';
  const ok =
    Number.isFinite(value) &&
    (spec.type === 'float' || Number.isInteger(value)) &&
    value >= spec.min &&
    value <= spec.max;
  if (!ok) throw usageFault(name, `{param} must be ${kind} from ${spec.min} to ${spec.max}, got ${value}`);
  return value;
}

/**
 * Resolve one method's configuration from values given for any method: each method takes the values
 * it declares and ignores the rest, so that one `--samples` serves kernel-shap and lime alike.
 */
export function resolveMethodConfig(
  name: string,
  params: Record<string, number> = {},
  choices: Record<string, string> = {},
): MethodConfig {
  const method = methodNamed(name);
  const own: Record<string, number> = {};
  for (const [key, spec] of Object.entries(method.params))
    own[key] = checkParam(key, spec, params[key] ?? spec.default);
  const picked: Record<string, string> = {};
  for (const [key, spec] of Object.entries(method.choices ?? {})) {
    const value = choices[key] ?? spec.default;
    if (!spec.values.includes(value))
      throw usageFault(key, `{param} must be one of ${spec.values.join(', ')}, got '${value}'`);
    picked[key] = value;
  }
  return { method, params: own, choices: picked };
}

/** Every parameter and choice any method declares, by flag name: the shared option group of explain, fidelity, bench and bias. */
export function allMethodOptions(): {
  params: Map<string, { spec: ParamSpec; methods: string[] }>;
  choices: Map<string, { values: readonly string[]; methods: string[] }>;
} {
  const params = new Map<string, { spec: ParamSpec; methods: string[] }>();
  const choices = new Map<string, { values: readonly string[]; methods: string[] }>();
  for (const m of Object.values(METHODS)) {
    for (const [key, spec] of Object.entries(m.params)) {
      const entry = params.get(key) ?? { spec, methods: [] };
      entry.methods.push(m.name);
      params.set(key, entry);
    }
    for (const [key, spec] of Object.entries(m.choices ?? {})) {
      const entry = choices.get(key) ?? { values: spec.values, methods: [] };
      entry.methods.push(m.name);
      choices.set(key, entry);
    }
  }
  return { params, choices };
}
