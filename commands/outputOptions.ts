import { Option, type Command } from 'commander';
import { localOnly, type LocalOnly } from '../src/api/operation.js';
import { SUMMARY_HELP } from './output.js';

/** The output option group: `--json`, `--svg` and `--summary`, defined here once for every command. */
export interface OutputOptions {
  /** What --json prints, with its schema id. */
  json: string;
  /** What --svg writes; none: the command draws no chart. */
  svg?: string;
  /** Whether the command can add a checked summary in words. */
  summary?: boolean;
}

export function addOutputOptions(cmd: Command, output: OutputOptions): Command {
  cmd.addOption(localOnly(new Option('--json', output.json), 'output'));
  if (output.svg !== undefined) cmd.addOption(localOnly(new Option('--svg <file>', output.svg), 'files'));
  if (output.summary) cmd.option('--summary', SUMMARY_HELP);
  return cmd;
}

/** An option declared local only: a file it reads or writes, or a setting of the process. */
export const localOption = (flags: string, description: string, why: LocalOnly = 'files'): Option =>
  localOnly(new Option(flags, description), why);
