import type { Command, Option } from 'commander';
import { localOnlyOf, type LocalOnly } from './operation.js';
import { usageError } from '../errors.js';

/**
 * Request bodies take the CLI's flags as fields, named as on the command line without the dashes
 * (`{"text": "…", "method": "kernel-shap", "samples": 1000}`). Everything here is read off the command's own
 * definition, so that the HTTP API cannot drift from the CLI: the JSON schema, the defaults, and the command
 * line a body amounts to.
 */

export type Body = Record<string, unknown>;

const fieldOf = (o: Option) => o.long!.slice(2);

/**
 * The options a body may set: every option but those that declare themselves local only (files, process
 * settings, outputs the server chooses itself).
 */
export function accepted(cmd: Command, take: readonly LocalOnly[] = []): Option[] {
  return cmd.options.filter((o) => {
    const local = localOnlyOf(o);
    return o.long && (local === undefined || take.includes(local)) && !o.negate;
  });
}

const takesValue = (o: Option) => o.required || o.optional;

/** JSON schema of a body: the text, and one field per option with the type its flag takes. */
export function bodySchema(cmd: Command, maxChars: number) {
  const properties: Record<string, object> = {
    text: { type: 'string', minLength: 1, maxLength: maxChars, description: 'the input text' },
  };
  for (const o of accepted(cmd)) {
    const scalar = takesValue(o) ? { type: ['string', 'number'] } : { type: 'boolean' };
    const many = Array.isArray(o.defaultValue);
    properties[fieldOf(o)] = {
      ...(many ? { type: 'array', items: scalar, maxItems: 1_000 } : scalar),
      description: o.description + (o.defaultValue !== undefined ? ` (default: ${String(o.defaultValue)})` : ''),
    };
  }
  return { type: 'object', required: ['text'], additionalProperties: false, properties };
}

/** The flags object commander would give the action for this body: defaults, then the body's fields as strings. */
export function flagsOf(cmd: Command, body: Body, take: readonly LocalOnly[] = []): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const o of cmd.options) {
    if (o.defaultValue !== undefined) flags[o.attributeName()] = o.defaultValue;
    // A lone --no-x makes x true unless given, as commander does when it parses a command line.
    else if (o.negate && !cmd.options.some((p) => p.long === o.long!.replace(/^--no-/, '--')))
      flags[o.attributeName()] = true;
  }
  for (const o of accepted(cmd, take)) {
    const value = body[fieldOf(o)];
    if (value === undefined) continue;
    if (!takesValue(o)) {
      if (value) flags[o.attributeName()] = true;
      continue;
    }
    flags[o.attributeName()] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return flags;
}

/** The command line a body amounts to (shown in a report's header, and run by the tests that compare). */
export function argsOf(cmd: Command, body: Body, take: readonly LocalOnly[] = []): string[] {
  const args = [cmd.name(), ...(body.text === undefined ? [] : [String(body.text)])];
  for (const o of accepted(cmd, take)) {
    const value = body[fieldOf(o)];
    if (value === undefined || value === false) continue;
    if (!takesValue(o)) args.push(o.long!);
    else for (const v of Array.isArray(value) ? value : [value]) args.push(o.long!, String(v));
  }
  return args;
}

/** A body that is a JSON object; anything else is refused as the CLI refuses a malformed command line. */
export function checkBody(body: unknown): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw usageError('the request body must be a JSON object of the command’s flags');
  return body as Body;
}
