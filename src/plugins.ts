import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { usageError } from './errors.js';
import { GRANULARITIES, GROUPINGS } from './masking/registry.js';
import type { Grouping } from './masking/types.js';
import { METHODS } from './methods/registry.js';
import type { AttributionMethod } from './methods/types.js';
import type { TargetKind } from './target/kind.js';
import { registerTargetKind } from './target/registry.js';

/** What a plugin file's default export holds: any of methods, target kinds and groupings. */
export interface Plugin {
  methods?: AttributionMethod[];
  targets?: TargetKind[];
  groupings?: Grouping[];
}

/** The file a working directory's plugins are listed in: `export default { plugins: ['./my-method.js'] }`. */
export const CONFIG_FILE = 'interp.config.js';

function fresh(what: string, name: unknown, taken: (n: string) => boolean): string {
  if (typeof name !== 'string' || name === '') throw usageError(`a ${what} needs a name`);
  if (taken(name)) throw usageError(`${what} '${name}' is already registered`);
  return name;
}

/** Add an attribution method by name, into the registry the built-in methods are in. */
export function registerMethod(def: AttributionMethod): void {
  const name = fresh('method', def?.name, (n) => n in METHODS);
  if (typeof def.explain !== 'function' || typeof def.passes !== 'function' || typeof def.params !== 'object')
    throw usageError(`method '${name}' lacks explain, passes or params`);
  METHODS[name] = def;
}

/** Add a target kind by name (see target/kind.ts for its record). */
export function registerTarget(def: TargetKind): void {
  fresh('target kind', def?.kind, () => false);
  for (const f of ['resolve', 'reads', 'score', 'head', 'describe'] as const)
    if (typeof def[f] !== 'function') throw usageError(`target kind '${def.kind}' lacks ${f}`);
  registerTargetKind(def);
}

/** Add a feature grouping by name (`--granularity NAME`). */
export function registerGrouping(def: Grouping): void {
  const name = fresh('grouping', def?.name, (n) => n in GROUPINGS);
  if (typeof def.groups !== 'function') throw usageError(`grouping '${name}' lacks groups`);
  GROUPINGS[name] = def;
  (GRANULARITIES as string[]).push(name);
}

const loaded = new Map<string, Plugin>();

/** Import a plugin file and register what it exports; a file already loaded is not registered twice. */
export async function loadPlugin(file: string): Promise<Plugin> {
  const path = resolve(file);
  const known = loaded.get(path);
  if (known) return known;
  if (!existsSync(path)) throw usageError(`plugin '${file}' does not exist`);
  const plugin = ((await import(pathToFileURL(path).href)) as { default?: Plugin }).default;
  const lists = [plugin?.methods, plugin?.targets, plugin?.groupings];
  if (
    !plugin ||
    typeof plugin !== 'object' ||
    lists.every((l) => l === undefined) ||
    lists.some((l) => l !== undefined && !Array.isArray(l))
  )
    throw usageError(
      `'${file}' is not a plugin: its default export must be { methods?, targets?, groupings? } (arrays)`,
    );
  plugin.methods?.forEach(registerMethod);
  plugin.targets?.forEach(registerTarget);
  plugin.groupings?.forEach(registerGrouping);
  loaded.set(path, plugin);
  return plugin;
}

/**
 * The CLI's plugins: every `--plugin FILE` (or `--plugin=FILE`) in argv, loaded before the commands are
 * built so that their methods' parameters become flags, and those listed in ./interp.config.js. Returns
 * argv without the plugin flags.
 */
export async function loadCliPlugins(argv: readonly string[], cwd = process.cwd()): Promise<string[]> {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--plugin' && i + 1 < argv.length) files.push(argv[++i]);
    else if (argv[i].startsWith('--plugin=')) files.push(argv[i].slice('--plugin='.length));
    else rest.push(argv[i]);
  }
  const config = resolve(cwd, CONFIG_FILE);
  if (existsSync(config)) {
    const listed = ((await import(pathToFileURL(config).href)) as { default?: { plugins?: string[] } }).default;
    for (const p of listed?.plugins ?? []) files.push(resolve(cwd, p));
  }
  for (const f of files) await loadPlugin(f);
  return rest;
}
