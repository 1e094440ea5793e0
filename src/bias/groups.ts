import fs from 'node:fs';
import { readUserText } from '../util/files.js';
import { usageFault } from '../errors.js';

/**
 * Built-in group term lists for `bias swap`. Deliberately small and plain: singular nouns and names
 * that fit "The {group} …" templates. Each list pairs terms of similar frequency and length where it
 * can, so that differences come from the group rather than from the word's rarity. Users can pass
 * their own JSON file of the same shape: { "group name": ["term", …], … }.
 */
export type GroupSet = Record<string, string[]>;

export const BUILTIN_GROUPS: Record<string, GroupSet> = {
  gender: {
    female: ['woman', 'girl', 'mother', 'daughter', 'sister', 'wife', 'lady', 'aunt'],
    male: ['man', 'boy', 'father', 'son', 'brother', 'husband', 'gentleman', 'uncle'],
  },
  religion: {
    christian: ['christian', 'catholic', 'protestant'],
    muslim: ['muslim', 'islamic', 'sunni'],
    jewish: ['jewish', 'jew', 'orthodox jew'],
    hindu: ['hindu', 'hindi'],
    buddhist: ['buddhist', 'zen'],
    atheist: ['atheist', 'secular', 'agnostic'],
  },
  nationality: {
    american: ['american'],
    mexican: ['mexican'],
    chinese: ['chinese'],
    indian: ['indian'],
    nigerian: ['nigerian'],
    german: ['german'],
    russian: ['russian'],
    iranian: ['iranian'],
  },
  age: {
    young: ['young person', 'teenager', 'student', 'young adult'],
    middle: ['middle-aged person', 'adult', 'parent'],
    old: ['old person', 'elderly person', 'pensioner', 'grandparent'],
  },
};

/** A built-in set by name, or a JSON file of the same shape. */
export function readGroups(spec: string): GroupSet {
  if (BUILTIN_GROUPS[spec]) return BUILTIN_GROUPS[spec];
  if (!fs.existsSync(spec))
    throw usageFault(
      'groups',
      `{param} must be ${Object.keys(BUILTIN_GROUPS).join(', ')} or a JSON file, got '${spec}'`,
    );
  const raw = readUserText(spec, 'groups');
  let groups: GroupSet;
  try {
    groups = JSON.parse(raw);
  } catch {
    throw usageFault('groups', `{param} ${spec} is not valid JSON`);
  }
  const entries = Object.entries(groups ?? {});
  if (
    entries.length < 2 ||
    entries.some(([, terms]) => !Array.isArray(terms) || terms.length === 0 || terms.some((t) => typeof t !== 'string'))
  ) {
    throw usageFault('groups', `{param} ${spec}: expected {"group": ["term", …], …} with at least two groups`);
  }
  return groups;
}
