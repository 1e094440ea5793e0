import { Command, CommanderError } from 'commander';
import { cliParam, ExitCode, InterpError } from '../src/errors.js';
import { examples } from './common.js';
import { VERSION } from '../src/util/paths.js';
import { quietOnClosedPipe } from './output.js';
import { attentionCommand } from './attention.js';
import { benchCommand } from './bench.js';
import { biasCommand } from './bias.js';
import { conceptsCommand } from './concepts.js';
import { counterfactualCommand } from './counterfactual.js';
import { explainCommand } from './explain.js';
import { exploreCommand } from './explore.js';
import { fidelityCommand } from './fidelity.js';
import { reportCommand } from './report.js';
import { chainCommand } from './chain.js';
import { patchCommand } from './patch.js';
import { serveCommand } from './serve.js';

export function buildProgram(): Command {
  const program = new Command('interp')
    .description(
      'Explain transformer language models locally: attributions, attention, concepts, bias and fidelity on ONNX models.',
    )
    .version(VERSION)
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .addHelpText(
      'after',
      examples([
        'interp explain "the film was a delight"',
        'interp explain "the film was a delight" --json | jq .features',
        'interp explain --help',
      ]),
    );
  program.addCommand(explainCommand());
  program.addCommand(attentionCommand());
  program.addCommand(conceptsCommand());
  program.addCommand(biasCommand());
  program.addCommand(counterfactualCommand());
  program.addCommand(chainCommand());
  program.addCommand(patchCommand());
  program.addCommand(exploreCommand());
  program.addCommand(fidelityCommand());
  program.addCommand(reportCommand());
  program.addCommand(serveCommand());
  program.addCommand(benchCommand());
  for (const cmd of [program, ...program.commands]) {
    cmd.exitOverride();
    cmd.configureOutput({
      outputError: (str, write) => write(`interp: ${str.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });
  }
  return program;
}

/** Run the CLI and return the exit code; every failure is one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return ExitCode.ok;
      return ExitCode.usage;
    }
    if (e instanceof InterpError) {
      process.stderr.write(`interp: error: ${e.worded(cliParam)}\n`);
      return e.exitCode;
    }
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    process.stderr.write(`interp: error: ${message}\n`);
    if (process.env.INTERP_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    return ExitCode.runtime;
  }
}
