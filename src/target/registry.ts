import { usageError, usageFault } from '../errors.js';
import type { HeadScore } from '../onnx/scoreHead.js';
import { continuationTarget } from './continuation.js';
import type { ResolveContext, Target, TargetDescriptor, TargetKind } from './kind.js';
import { labelTarget } from './label.js';
import { nextTokenTarget } from './nextToken.js';

/** The built-in kinds, in the order a request without a named kind tries them: adding one is one file and one line here. */
const BUILT_IN: readonly TargetKind[] = [labelTarget, continuationTarget, nextTokenTarget] as TargetKind[];

const KINDS = new Map<string, TargetKind>(BUILT_IN.map((k) => [k.kind, k]));

/** Add a target kind (a plugin's); its name must be new. */
export function registerTargetKind(kind: TargetKind): void {
  if (KINDS.has(kind.kind)) throw usageError(`target kind '${kind.kind}' is already registered`);
  KINDS.set(kind.kind, kind);
}

/** Every registered kind, built-in ones first. */
export const targetKinds = (): TargetKind[] => [...KINDS.values()];

/** The record of a kind by name. */
export function targetKind(kind: string): TargetKind {
  const record = KINDS.get(kind);
  if (!record)
    throw usageFault('target-kind', `unknown {param} '${kind}'; choose one of ${[...KINDS.keys()].join(', ')}`);
  return record;
}

/** The kind the request names, or the first built-in one that applies to the model. */
export async function resolveByKind(ctx: ResolveContext): Promise<Target> {
  const { model, request } = ctx;
  if (request.continuation !== undefined && request.target !== undefined && request.kind === undefined)
    throw usageFault('target', 'give either {param} or {param:continuation}, not both');
  const tried = request.kind !== undefined ? [targetKind(request.kind)] : BUILT_IN;
  for (const record of tried) {
    const target = await record.resolve(ctx);
    if (target) return target;
  }
  const what = request.kind !== undefined ? `target kind '${request.kind}'` : 'targets';
  throw usageError(`${what} for '${model.task}' models are not supported by this command`);
}

export const describeTarget = (target: Target): TargetDescriptor => targetKind(target.kind).describe(target);

/** The score function of the target's graph head. */
export const headScoreOf = (target: Target): HeadScore => targetKind(target.kind).head(target).score;

/** The target as head inputs for a prompt of `promptLength` tokens; `extra` is appended to the prompt (a continuation). */
export function targetHead(
  target: Target,
  promptLength: number,
): { positions: number[]; index: number[]; weight: number[]; extra: number[] } {
  const record = targetKind(target.kind);
  const { index, weight } = record.head(target);
  return { ...record.reads(target, promptLength), index, weight };
}
