import fs from 'node:fs';
import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { resolveTarget, type Target, type TargetRequest } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { readUserText, textLines } from '../util/files.js';
import { readGroups } from './groups.js';
import { explainGap, fillTemplates, swapProbe, type SwapResult } from './swap.js';

export interface SwapRequest {
  templates: string[];
  /** A file of more templates, one per line. */
  templatesFile?: string;
  /** A built-in group set's name or a JSON file. */
  groups: string;
  slots: Record<string, string[]>;
  target: TargetRequest;
  permutations: number;
  seed: number;
  /** Attribute the gap between two groups (default: the highest and lowest mean) to the template words. */
  explain?: {
    groups?: [string, string];
    method: string;
    params: Record<string, number>;
    choices: Record<string, string>;
  };
}

function readTemplates(request: SwapRequest): string[] {
  const templates = [...request.templates];
  if (request.templatesFile) {
    if (!fs.existsSync(request.templatesFile))
      throw usageFault('templates', `no such {param} file: ${request.templatesFile}`);
    templates.push(
      ...textLines(readUserText(request.templatesFile, 'templates'), request.templatesFile)
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }
  if (templates.length === 0)
    throw usageFault('template', 'give at least one {param} "… {group} …" or {param:templates} FILE');
  return templates;
}

/** The target every variant is scored on: a classifier's label (default: its last, e.g. POSITIVE), or a causal LM's next token or continuation. */
async function swapTarget(model: Model, request: TargetRequest, probe: string): Promise<Target> {
  const ids = encodeText(model, probe).ids;
  if (model.task === 'classification')
    return resolveTarget(model, ids, {
      ...request,
      target: request.target ?? model.labels![model.labels!.length - 1],
    });
  if (model.task !== 'causal-lm') throw usageError('bias swap needs a classifier or a causal LM');
  if (request.target === undefined && request.continuation === undefined)
    throw usageError(
      "for a causal LM, give {param:continuation} TEXT (its log-probability) or {param:target} TOKEN (the next token's)",
    );
  return resolveTarget(model, ids, request, probe);
}

/** Fill the templates, score every variant, test the gap, and optionally explain it. */
export async function swapReport(model: Model, request: SwapRequest): Promise<SwapResult> {
  const groups = readGroups(request.groups);
  const variants = fillTemplates(readTemplates(request), groups, request.slots);
  const target = await swapTarget(model, request.target, variants[0].text);
  const result = await swapProbe(model, variants, target, {
    permutations: request.permutations,
    seed: request.seed,
  });
  if (request.explain) {
    const pair = request.explain.groups ?? [result.gap.high, result.gap.low];
    for (const g of pair)
      if (!groups[g])
        throw usageFault(
          'explain-groups',
          `{param}: unknown group '${g}'; groups are ${Object.keys(groups).join(', ')}`,
        );
    const { method, params, choices } = request.explain;
    result.explanation = await explainGap(model, variants, target, pair, method, params, choices, request.seed);
  }
  return result;
}
