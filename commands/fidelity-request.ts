import type { FidelityConfig } from '../src/fidelity/types.js';
import { parseInteger, type ModelFlags } from './common.js';
import type { DataFlags } from './data.js';
import type { GateFlags } from './fidelity-gate.js';
import * as groups from './groups.js';
import type { ModelOpener } from './operation.js';
import { methodOptionValues, parseMethods } from './options.js';
import { robustnessOf, type RobustnessFlags } from './robustness.js';

export interface FidelityFlags extends ModelFlags, GateFlags, DataFlags, groups.MaskingFlags, RobustnessFlags {
  methods: string;
  out?: string;
  score?: string;
  stability?: boolean;
  choose?: boolean;
  sanity: string;
  softSamples: string;
  naopcMaxFeatures: string;
  [param: string]: unknown;
}

/**
 * What fidelity's flags ask of every example (the methods, their parameters, the metrics' settings and the
 * adversary), checked now; a helper model the attack names opens when the work runs. The CLI and the
 * library's `fidelity` iterator both build their configuration here.
 */
export function fidelityConfigOf(flags: FidelityFlags): (open: ModelOpener) => Promise<FidelityConfig> {
  const methods = parseMethods(flags.methods);
  const config = {
    methods,
    ...methodOptionValues(flags, methods),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    score: flags.score,
    ...groups.maskingOf(flags),
    softSamples: parseInteger('--soft-samples', flags.softSamples, 1, 10_000),
    maxNormalise: parseInteger('--naopc-max-features', flags.naopcMaxFeatures, 0, 200),
    stability: Boolean(flags.stability),
  };
  const attack = robustnessOf(flags);
  return async (open) => ({ ...config, robustness: await attack?.(open) });
}
