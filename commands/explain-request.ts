import { formatOf, readDataset } from '../src/data/datasets.js';
import { usageError, usageFault } from '../src/errors.js';
import type { ExplainRequest } from '../src/explain.js';
import { optionalInteger, parseInteger, type ModelFlags } from './common.js';
import * as groups from './groups.js';
import { chosenMethods, methodOptionValues } from './options.js';
import type { OutputFlags } from './output.js';
import { robustnessOf, type RobustnessFlags } from './robustness.js';

export interface ExplainFlags
  extends ModelFlags, OutputFlags, groups.TargetFlags, groups.MaskingFlags, RobustnessFlags {
  summary?: boolean;
  method?: string;
  compare?: string;
  seed: string;
  truncate?: boolean;
  top?: string;
  generate?: string;
  calibration?: string;
  contrast?: string;
  [param: string]: unknown;
}

/**
 * What `explain`'s flags ask for: the request, and which one kind of explanation runs on it (one method,
 * several side by side, each generated token, or one explanation against an adversary).
 */
export function explainPlanOf(text: string, flags: ExplainFlags) {
  const auto = flags.method === 'auto';
  const methods = chosenMethods(auto ? { ...flags, method: undefined } : flags, 'occlusion');
  const request: ExplainRequest = {
    ...{ text, method: methods[0], ...methodOptionValues(flags, methods), target: groups.targetOf(flags) },
    ...{ ...groups.maskingOf(flags), seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1) },
    truncate: flags.truncate,
  };
  const steps = optionalInteger('--generate', flags.generate, 1, 1_024);
  const attack = robustnessOf(flags);
  const modes = [
    steps !== undefined && '--generate',
    flags.compare !== undefined && '--compare',
    attack && '--robustness',
  ];
  if (modes.filter(Boolean).length > 1) throw usageError(`${modes.filter(Boolean).join(' and ')} do not combine`);
  if (auto && modes.some(Boolean))
    throw usageError(`--method auto explains one text; ${modes.find(Boolean)} does not combine with it`);
  if (flags.calibration !== undefined && !auto) throw usageFault('calibration', '{param} applies to --method auto');
  const calibration =
    auto && flags.calibration !== undefined
      ? { examples: readDataset(flags.calibration, formatOf(flags.calibration)).examples, source: flags.calibration }
      : undefined;
  return { methods, request, steps, attack, auto, calibration };
}
