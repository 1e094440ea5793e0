import { usageFault } from '../errors.js';

/**
 * The template engine of `bias swap` and `interp test`, written once: a template is text with {slot}
 * placeholders, filled with every combination of its slots' values.
 */

/** The slot names of a template, in order of first appearance. */
export function slotNames(template: string): string[] {
  return [...new Set([...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))];
}

/** Every combination of values of `names` (the first name varies slowest); a name without values is a usage fault. */
export function slotCombos(
  template: string,
  names: readonly string[],
  slots: Record<string, readonly string[]>,
  param = 'slot',
): Record<string, string>[] {
  for (const n of names)
    if (!slots[n]?.length)
      throw usageFault(param, `template '${template}' has a {${n}} slot; give its values with {param} ${n}=a,b`);
  return names.reduce<Record<string, string>[]>(
    (acc, n) => acc.flatMap((c) => slots[n].map((v) => ({ ...c, [n]: v }))),
    [{}],
  );
}

/** The template with the slots that `values` names filled in; other slots stay as {name}. */
export const fillSlots = (template: string, values: Record<string, string>): string =>
  template.replace(/\{(\w+)\}/g, (m, n: string) => values[n] ?? m);

/** Every filled text of a template with its slot values. */
export function expandTemplate(
  template: string,
  slots: Record<string, readonly string[]>,
  param = 'slot',
): { text: string; slots: Record<string, string> }[] {
  return slotCombos(template, slotNames(template), slots, param).map((combo) => ({
    text: fillSlots(template, combo),
    slots: combo,
  }));
}
