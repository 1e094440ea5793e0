import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { thresholdError } from '../src/errors.js';
import { checkPlugin } from '../src/methods/conformance.js';
import { fittedTable } from '../src/render/format.js';
import { examples } from './common.js';

/** `interp check-method FILE.js`: the conformance checks the built-in methods pass, run on a plugin's methods. */
export function checkMethodCommand(): Command {
  const cmd = new Command('check-method')
    .summary("run the built-in methods' conformance checks on a plugin's methods")
    .description(
      'Load a plugin file and check each method it registers on the planted additive model: parameter bounds (declared and enforced), determinism under a seed with the declared cost, completeness where declared, and recovery of the planted weights (perturbation methods and those that declare completeness). Each target kind it registers scores its declared example on the CPU and by its graph head, which must agree to 1e-5. Exit 0 when all pass, 3 when any fails, 2 for a file that is not a plugin.',
    )
    .argument('<file>', 'the plugin, an ES module whose default export is { methods: [...], targets: [...] }');
  addOutputOptions(cmd, { json: 'print the results as JSON' });
  cmd.addHelpText('after', examples(['interp check-method examples/plugins/mean-occlusion.js']));
  return cmd.action(async (file: string, flags: { json?: boolean }) => {
    const checked = await checkPlugin(file);
    if (flags.json) process.stdout.write(`${JSON.stringify(checked, null, 2)}\n`);
    else {
      const rows = checked.flatMap(({ name, results }) =>
        results.map((r) => [name, r.check, r.pass ? 'pass' : 'FAIL', r.detail]),
      );
      process.stdout.write(`${fittedTable(['method or target', 'check', 'result', 'detail'], rows, 2)}\n`);
    }
    const failed = checked.flatMap((c) => c.results.filter((r) => !r.pass).map((r) => `${c.name}: ${r.check}`));
    if (failed.length) throw thresholdError(`${failed.length} conformance check(s) failed (${failed.join(', ')})`);
  });
}
