import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../server/app.js';
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
    const local: Record<string, string> = {};
    for (const op of OPERATIONS)
      for (const o of op.command().options) if (localOnlyOf(o)) local[o.long!.slice(2)] = localOnlyOf(o)!;
    expect(local).toEqual({
      json: 'output',
      svg: 'files',
      out: 'files',
      threads: 'process',
      'max-memory': 'process',
      data: 'files',
      format: 'files',
      limit: 'files',
      sample: 'files',
      shard: 'files',
      strict: 'files',
      require: 'output',
    });
    for (const op of OPERATIONS) {
      const fields = Object.keys(bodySchema(op.command(), 100).properties);
      expect(fields.filter((f) => f in local && !(op.name === 'attention' && f === 'format'))).toEqual([]);
    }
  });
});
