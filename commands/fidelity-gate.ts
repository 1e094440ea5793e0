import fs from 'node:fs';
import { Command } from 'commander';
import { thresholdError, usageError } from '../src/errors.js';
import { checkThresholds, leaderboard, parseThreshold, type Leaderboard } from '../src/fidelity/leaderboard.js';
import { corruptWarnings, readRecords } from '../src/data/records.js';
import { RECORD_SCHEMA, type FidelityRecord } from '../src/fidelity/types.js';
import { curvesChart, leaderboardTable } from '../src/render/fidelity.js';
import { collect } from './common.js';
import { emit, summarised, warnOrRefuse, withSummaryText, type OutputFlags } from './output.js';
import { summarizeFidelity } from '../src/summary/results.js';
import { addOutputOptions } from './outputOptions.js';

/** The leaderboard's output and its CI gate, shared by `fidelity` and `fidelity summarize`. */

export interface GateFlags extends OutputFlags {
  summary?: boolean;
  min: string[];
  max: string[];
}

export function addGateOptions(cmd: Command): Command {
  cmd
    .option(
      '--min <metric=value>',
      "fail (exit 3) when a method's mean is below this; METHOD:METRIC=VALUE for one method; repeatable",
      collect,
      [],
    )
    .option(
      '--max <metric=value>',
      "fail (exit 3) when a method's mean is above this (for lower-is-better metrics); repeatable",
      collect,
      [],
    );
  addOutputOptions(cmd, {
    json: 'print the leaderboard as JSON (schema interp/fidelity@1)',
    svg: 'write the mean deletion and insertion curves of every method',
    summary: true,
  });
  return cmd;
}

/** Parse the thresholds before any work, so that a typo fails at once. */
export const thresholdsOf = (flags: GateFlags) => [
  ...flags.min.map((t) => parseThreshold(t, 'min')),
  ...flags.max.map((t) => parseThreshold(t, 'max')),
];

export async function reportLeaderboard(board: Leaderboard, flags: GateFlags): Promise<void> {
  const shown = await summarised(flags.summary, board, summarizeFidelity);
  await emit(flags, shown, { table: withSummaryText(leaderboardTable), chart: curvesChart });
  const misses = checkThresholds(board, thresholdsOf(flags));
  if (misses.length) throw thresholdError(`${misses.length} threshold(s) not met: ${misses.join('; ')}`);
}

export function summarizeCommand(): Command {
  const summarize = new Command('summarize')
    .description('merge result files (shards, resumed runs) into one leaderboard')
    .argument('<files...>', 'JSONL files written by --out');
  return addGateOptions(summarize).action(async (files: string[], flags: GateFlags) => {
    thresholdsOf(flags);
    for (const f of files) if (!fs.existsSync(f)) throw usageError(`no such results file: ${f}`);
    const read = files.map((f) => ({ file: f, ...readRecords<FidelityRecord>(f, RECORD_SCHEMA) }));
    const records = read.flatMap((r) => r.records);
    if (records.length === 0) throw usageError('the result files hold no records');
    warnOrRefuse(read.flatMap((r) => corruptWarnings(r.file, r.corrupt)));
    await reportLeaderboard(leaderboard(records), flags);
  });
}
