import { Command, CommanderError } from 'commander';
import { cliParam, ExitCode, InterpError, usageError } from '../src/errors.js';
import { examples } from './common.js';
import { VERSION } from '../src/util/paths.js';
import { quietOnClosedPipe } from './output.js';

/**
 * Each subcommand, imported only when it runs: importing all of them (and everything they import) took
 * most of a cold start. Help, and a name that is not a command, load them all; --version loads none.
 */
export const COMMANDS: Record<string, () => Promise<Command>> = {
  explain: async () => (await import('./explain.js')).explainCommand(),
  attention: async () => (await import('./attention.js')).attentionCommand(),
  concepts: async () => (await import('./concepts.js')).conceptsCommand(),
  bias: async () => (await import('./bias.js')).biasCommand(),
  counterfactual: async () => (await import('./counterfactual.js')).counterfactualCommand(),
  chain: async () => (await import('./chain.js')).chainCommand(),
  patch: async () => (await import('./patch.js')).patchCommand(),
  circuit: async () => (await import('./circuit.js')).circuitCommand(),
  steer: async () => (await import('./steer.js')).steerCommand(),
  knowledge: async () => (await import('./knowledge.js')).knowledgeCommand(),
  test: async () => (await import('./test.js')).testCommand(),
  explore: async () => (await import('./explore.js')).exploreCommand(),
  fidelity: async () => (await import('./fidelity.js')).fidelityCommand(),
  report: async () => (await import('./report.js')).reportCommand(),
  serve: async () => (await import('./serve.js')).serveCommand(),
  bench: async () => (await import('./bench.js')).benchCommand(),
  'check-method': async () => (await import('./check-method.js')).checkMethodCommand(),
  deploy: async () => (await import('./deploy.js')).deployCommand(),
};

/** The program with `only` (a subcommand's name) or, without it or for any other word, every subcommand. */
export async function buildProgram(only?: string): Promise<Command> {
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
  // --version prints before any subcommand could run: it loads none.
  const version = only === '--version' || only === '-V';
  const names = only !== undefined && only in COMMANDS ? [only] : version ? [] : Object.keys(COMMANDS);
  for (const command of await Promise.all(names.map((name) => COMMANDS[name]()))) program.addCommand(command);
  program.hook('preAction', (_, action) => refuseEmptyValues(action));
  for (const cmd of [program, ...program.commands]) {
    cmd.exitOverride();
    cmd.configureOutput({
      outputError: (str, write) => write(`interp: ${str.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });
  }
  return program;
}

/** An option given an empty value (`--svg ""`) names nothing: refused rather than read as absent. */
function refuseEmptyValues(action: Command): void {
  for (const o of action.options) {
    const value: unknown = action.getOptionValue(o.attributeName());
    const given = action.getOptionValueSource(o.attributeName()) === 'cli';
    if (given && (value === '' || (Array.isArray(value) && value.includes(''))))
      throw usageError(`${o.long} needs a value, got an empty string`);
  }
}

/** Run the CLI and return the exit code; every failure is one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  try {
    // Plugins first (--plugin FILE, ./interp.config.js): their methods' parameters become flags.
    const args = await (await import('../src/plugins.js')).loadCliPlugins(argv);
    const program = await buildProgram(args[2]);
    await program.parseAsync(args);
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
