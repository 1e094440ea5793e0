import type { Command } from 'commander';
import type { AttackSettings } from '../src/robustness/attack.js';
import { usageError } from '../src/errors.js';
import { parseInteger, parseNumber } from './common.js';
import { proposerOf } from './counterfactual-request.js';
import type { ModelOpener } from './operation.js';

/** The robustness attack's flags (fidelity --robustness): each explanation meets an adversary (Ivankay et al. 2022). */
export interface RobustnessFlags {
  robustness?: boolean;
  robustnessK?: string;
  robustnessBudget?: string;
  robustnessMaxEdits?: string;
  robustnessTolerance?: string;
  proposer?: string;
  proposerModel?: string;
  seed: string;
}

export function addRobustnessOptions(cmd: Command, attacked = 'every explanation'): Command {
  return cmd
    .option(
      '--robustness',
      `attack ${attacked}: word substitutions that keep the prediction and move the top-k words most, with a random control`,
    )
    .option('--robustness-k <n>', 'the top-k words the attack tries to displace (default 3)')
    .option('--robustness-budget <n>', 'forward passes per attack, judging and explaining candidates (default 2000)')
    .option('--robustness-max-edits <n>', 'word substitutions per attack at most (default 3)')
    .option(
      '--robustness-tolerance <x>',
      'how far the predicted score may move: probability, or log-probability for LMs (default 0.1)',
    )
    .option(
      '--proposer <kind>',
      "substitutes for the attack: embedding (the model's nearest word embeddings; the default), mlm or list:FILE",
    )
    .option('--proposer-model <model>', 'the masked LM for --proposer mlm');
}

/**
 * The attack settings the flags ask for, or undefined without --robustness: the numbers are checked now (usage
 * errors before any model loads), and the proposer's model, when it has one, opens when the work runs.
 */
export function robustnessOf(flags: RobustnessFlags): ((open: ModelOpener) => Promise<AttackSettings>) | undefined {
  const given = (
    [
      'robustnessK',
      'robustnessBudget',
      'robustnessMaxEdits',
      'robustnessTolerance',
      'proposer',
      'proposerModel',
    ] as const
  ).find((f) => flags[f] !== undefined);
  if (!flags.robustness) {
    if (given) throw usageError(`--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies with --robustness`);
    return undefined;
  }
  const settings = {
    k: parseInteger('--robustness-k', flags.robustnessK ?? '3', 1, 100),
    budget: parseInteger('--robustness-budget', flags.robustnessBudget ?? '2000', 1, 10_000_000),
    maxEdits: parseInteger('--robustness-max-edits', flags.robustnessMaxEdits ?? '3', 1, 10),
    tolerance: parseNumber('--robustness-tolerance', flags.robustnessTolerance ?? '0.1', 0, 100),
    candidates: 5,
    beam: 16,
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
  };
  return async (open) => ({
    ...settings,
    proposer: await proposerOf({ ...flags, proposer: flags.proposer ?? 'embedding' }, open),
  });
}
