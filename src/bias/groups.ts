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
