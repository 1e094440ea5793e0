import { usageFault } from '../errors.js';

/** Which shard this process runs, and where that came from (a flag, or the array-job engine's environment). */
export interface ShardChoice {
  /** [index, count]: every example whose position modulo count is index. */
  shard: [number, number];
  /** The engine whose variables gave it, for `--shard auto`; null for an explicit i/n. */
  source: string | null;
}

/**
 * The array-job engines `--shard auto` reads. Kubernetes gives an Indexed Job's pods their index
 * (JOB_COMPLETION_INDEX) but not the Job's completions: the manifest passes the count itself, in
 * INTERP_SHARD_COUNT (`interp deploy indexed-job` writes it from --shards).
 */
const ENGINES = [
  { name: 'Kubernetes Indexed Job', index: 'JOB_COMPLETION_INDEX', count: 'INTERP_SHARD_COUNT' },
  { name: 'AWS Batch array job', index: 'AWS_BATCH_JOB_ARRAY_INDEX', count: 'AWS_BATCH_JOB_ARRAY_SIZE' },
  { name: 'Cloud Run job', index: 'CLOUD_RUN_TASK_INDEX', count: 'CLOUD_RUN_TASK_COUNT' },
] as const;

const wholeNumber = (name: string, raw: string, min: number): number => {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min)
    throw usageFault('shard', `{param} auto: ${name} must be a whole number of at least ${min}, got '${raw}'`);
  return value;
};

/** `--shard auto`: the first engine whose index variable is set; an error when none is. */
export function shardFromEnvironment(env: Readonly<Record<string, string | undefined>>): ShardChoice {
  const engine = ENGINES.find((e) => env[e.index] !== undefined);
  if (!engine)
    throw usageFault(
      'shard',
      `{param} auto found no array-job index: set by ${ENGINES.map((e) => `${e.index} (${e.name})`).join(', ')}`,
    );
  const rawCount = env[engine.count];
  if (rawCount === undefined)
    throw usageFault(
      'shard',
      engine.count === 'INTERP_SHARD_COUNT'
        ? `{param} auto: ${engine.index} is set, but Kubernetes does not give the Job's completions; set INTERP_SHARD_COUNT to them`
        : `{param} auto: ${engine.index} is set without ${engine.count}`,
    );
  const index = wholeNumber(engine.index, env[engine.index]!, 0);
  const count = wholeNumber(engine.count, rawCount, 1);
  if (index >= count)
    throw usageFault('shard', `{param} auto: ${engine.index} ${index} is not below ${engine.count} ${count}`);
  return { shard: [index, count], source: `${engine.name} (${engine.index}=${index}, ${engine.count}=${count})` };
}

/** `--shard i/n`, or `auto` from the environment. */
export function parseShardChoice(raw: string, env: Readonly<Record<string, string | undefined>>): ShardChoice {
  if (raw.trim() === 'auto') return shardFromEnvironment(env);
  const m = /^(\d+)\/(\d+)$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw usageFault('shard', `{param} must be i/n with 0 ≤ i < n, or auto, got '${raw}'`);
  return { shard: [Number(m[1]), Number(m[2])], source: null };
}

/** An output path for this shard: `{index}` and `{count}` are replaced, so that each array task writes its own file. */
export function shardPath(template: string, shard: [number, number] | undefined): string {
  if (!/\{(index|count)\}/.test(template)) return template;
  if (!shard) throw usageFault('shard', `'${template}' names {index} or {count}, which only {param} gives`);
  return template.replace(/\{index\}/g, String(shard[0])).replace(/\{count\}/g, String(shard[1]));
}
