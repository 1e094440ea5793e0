import { Option, type Command } from 'commander';
import { InterpError, usageError, usageFault } from '../src/errors.js';
import { allMethodOptions, methodNamed, methodNames } from '../src/methods/config.js';
import type { Family } from '../src/methods/types.js';
import { parseNumber } from './common.js';

/** Method options: every parameter and choice a registered method declares, as one shared option group. */

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export interface MethodOptionGroup {
  /** Flag prefix (bias swap takes `--explain-samples`, since its own `--permutations` is the p-value's). */
  prefix?: string;
  /** Only the options of these families' methods. */
  families?: readonly Family[];
}

/** Add `--<param>` for every method parameter and choice, each described with its bounds and per-method defaults. */
export function addMethodOptions(cmd: Command, group: MethodOptionGroup = {}): Command {
  const { params, choices } = allMethodOptions();
  const prefix = group.prefix ?? '';
  const keep = (methods: string[]) =>
    methods.filter((m) => !group.families || group.families.includes(methodNamed(m).family));
  for (const [flag, { spec, methods }] of params) {
    const own = keep(methods);
    if (own.length === 0) continue;
    const defaults = own.map((m) => `${m}: ${methodNamed(m).params[flag].default}`).join(', ');
    cmd.addOption(
      new Option(`--${prefix}${flag} <${spec.type === 'int' ? 'n' : 'x'}>`, `${spec.description} (${defaults})`),
    );
  }
  for (const [flag, { values, methods }] of choices) {
    const own = keep(methods);
    if (own.length === 0) continue;
    const defaults = own.map((m) => `${m}: ${methodNamed(m).choices![flag].default}`).join(', ');
    cmd.addOption(
      new Option(
        `--${prefix}${flag} <name>`,
        `${methodNamed(own[0]).choices![flag].description}: ${values.join(', ')} (${defaults})`,
      ),
    );
  }
  return cmd;
}

/** The method option values given on the command line, each checked to apply to at least one of `methods`. */
export function methodOptionValues(
  flags: Record<string, unknown>,
  methods: readonly string[],
  group: MethodOptionGroup = {},
): { params: Record<string, number>; choices: Record<string, string> } {
  const { params: paramFlags, choices: choiceFlags } = allMethodOptions();
  const prefix = group.prefix ?? '';
  const read = <T>(
    table: Map<string, { methods: string[] }>,
    parse: (flag: string, raw: string) => T,
  ): Record<string, T> => {
    const values: Record<string, T> = {};
    for (const [flag, { methods: owners }] of table) {
      const raw = flags[camel(prefix + flag)];
      if (raw === undefined) continue;
      if (!methods.some((m) => owners.includes(m)))
        throw usageError(`--${prefix}${flag} does not apply to ${methods.join(', ')}`);
      values[flag] = parse(flag, String(raw));
    }
    return values;
  };
  return {
    params: read(paramFlags, (flag, raw) => parseNumber(`--${prefix}${flag}`, raw)),
    choices: read(choiceFlags, (_, raw) => raw),
  };
}

/** A comma-separated list of registered methods. */
export function parseMethods(raw: string, flag = '--methods'): string[] {
  const methods = raw
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (methods.length === 0) throw usageError(`${flag} is empty; choose from ${methodNames().join(', ')}`);
  for (const m of methods) methodNamed(m);
  return methods;
}

/** `--compare`'s methods, or `--method` (default `fallback`): both at once is a contradiction, not a choice. */
export function chosenMethods(flags: { method?: string; compare?: string }, fallback: string): string[] {
  if (flags.compare !== undefined && flags.method !== undefined)
    throw usageError('--method and --compare both choose the methods; give one');
  return flags.compare !== undefined
    ? parseMethods(flags.compare, '--compare')
    : parseMethods(flags.method ?? fallback, '--method');
}

/** A core error about a method parameter, worded with this option group's flag prefix. */
export function withPrefix(e: unknown, prefix: string): unknown {
  if (!(e instanceof InterpError) || !e.param || !prefix) return e;
  const { params, choices } = allMethodOptions();
  return params.has(e.param) || choices.has(e.param) ? usageFault(prefix + e.param, e.template) : e;
}
