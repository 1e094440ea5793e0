import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/cli.js';
import { OPERATIONS } from '../../server/app.js';
import { CLI_ONLY } from '../../server/cliOnly.js';
import { bodySchema, flagsOf } from '../../src/api/fields.js';
import { localOnlyOf } from '../../src/api/operation.js';
import { addOutputOptions, localOption } from '../../commands/outputOptions.js';

/** The server refuses an option because the option says it is local only, not because of its name. */

describe('options declare whether they are local only', () => {
  it('an option marked local only is not in a body schema, and a body cannot set it', () => {
    const cmd = new Command('probe')
      .option('--steps <n>', 'a number', '4')
      .addOption(localOption('--corpus <file>', 'a file it reads'));
    addOutputOptions(cmd, { json: 'print JSON', svg: 'write a chart', summary: true });
    expect(Object.keys(bodySchema(cmd, 100).properties)).toEqual(['text', 'steps', 'summary']);
    expect(flagsOf(cmd, { text: 'x', corpus: '/etc/passwd', svg: '/tmp/x.svg', steps: 2 })).toEqual({ steps: '2' });
  });

  it('every served command marks its files, process settings and outputs (the former name list)', () => {
    // [command, flag] → what the flag touches; json, svg, threads and max-memory are on every command.
    const local: Record<string, string> = {};
    const common = { json: 'output', svg: 'files', threads: 'process', 'max-memory': 'process' } as Record<
      string,
      string
    >;
    for (const op of OPERATIONS)
      for (const o of op.command().options) {
        const [flag, kind] = [o.long!.slice(2), localOnlyOf(o)];
        if (kind && common[flag] !== kind) local[`${op.name} --${flag}`] = kind;
      }
    const files = ['data', 'format', 'limit', 'out', 'sample', 'shard', 'strict'];
    expect(local).toEqual({
      'attention --alignments': 'input',
      'circuit --data': 'input',
      'circuit --min-faithfulness': 'process',
      ...Object.fromEntries(files.map((f) => [`counterfactual --${f}`, 'files'])),
      'counterfactual --require': 'output',
      'explain --calibration': 'files',
      'explore --variants': 'input',
      'report --circuit': 'input',
      ...Object.fromEntries(files.map((f) => [`report --${f}`, 'files'])),
      'report --suite': 'files',
    });
    for (const op of OPERATIONS) {
      const fields = Object.keys(bodySchema(op.command(), 100).properties);
      expect(fields.filter((f) => `${op.name} --${f}` in local || f in common)).toEqual([]);
    }
  });
});

describe('every command is a route, or CLI-only with its reason', () => {
  it('each top-level command is served (its operation, or concepts lens as /v1/lens) or listed CLI-only, never both', () => {
    const served = new Set(OPERATIONS.map((op) => (op.name === 'lens' ? 'concepts lens' : op.name)));
    for (const name of Object.keys(COMMANDS)) {
      const isServed = served.has(name) || [...served].some((s) => s.startsWith(`${name} `));
      const reason = CLI_ONLY[name];
      expect(isServed || reason !== undefined, name).toBe(true);
      if (name !== 'concepts') expect(isServed && reason !== undefined, name).toBe(false);
    }
    for (const name of Object.keys(CLI_ONLY)) expect(Object.keys(COMMANDS)).toContain(name);
  });
});
