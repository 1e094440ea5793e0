import { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { examples } from './common.js';

/** A subcommand whose engine is not built yet: it documents its interface, then says so and exits 2. */
export function plannedCommand(name: string, summary: string, exampleLines: string[]): Command {
  return new Command(name)
    .summary(`${summary} (not built yet)`)
    .description(`${summary}.\n\nThis subcommand is not built yet: running it exits with status 2.`)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .addHelpText('after', examples(exampleLines))
    .action(() => {
      throw usageError(`'interp ${name}' is not built yet; see 'interp ${name} --help' for the planned interface`);
    });
}
