/**
 * `--relations builtin`: four small relations written for this project, in the words of children's
 * stories, so that a small story model (TinyStories) has a chance at them. Family maps a young animal
 * to its parent's kind, place an animal to where it lives: with --expand, the animals the model names
 * as parents are asked where they live. The seeds are the subjects of family, colour and profession.
 */
export const BUILTIN_RELATIONS = {
  relations: [
    {
      name: 'family',
      template: 'The little {subject} ran to its mom, the big {object}.',
      subjectType: 'young animal',
      objectType: 'animal',
      subjects: ['puppy', 'kitten', 'lamb', 'chick', 'calf', 'duckling'],
      objects: ['dog', 'cat', 'sheep', 'hen', 'cow', 'duck'],
      gold: { puppy: 'dog', kitten: 'cat', lamb: 'sheep', chick: 'hen', calf: 'cow', duckling: 'duck' },
    },
    {
      name: 'colour',
      template: 'The {subject} was {object}.',
      subjectType: 'thing',
      objectType: 'colour',
      subjects: ['sky', 'grass', 'sun', 'snow', 'apple', 'banana', 'carrot', 'leaf', 'cloud', 'sea', 'frog'],
      objects: ['blue', 'green', 'yellow', 'white', 'red', 'orange'],
      gold: {
        sky: 'blue',
        grass: 'green',
        sun: 'yellow',
        snow: 'white',
        apple: ['red', 'green'],
        banana: 'yellow',
        carrot: 'orange',
        leaf: 'green',
        cloud: 'white',
        sea: 'blue',
        frog: 'green',
      },
    },
    {
      name: 'place',
      template: 'The {subject} lived in the {object}.',
      subjectType: 'animal',
      objectType: 'place',
      subjects: ['dog', 'cat', 'sheep', 'hen', 'cow', 'duck', 'fish', 'bird', 'bee', 'bear', 'frog'],
      objects: ['house', 'farm', 'pond', 'sea', 'tree', 'hive', 'forest'],
      gold: {
        dog: 'house',
        cat: 'house',
        sheep: 'farm',
        hen: 'farm',
        cow: 'farm',
        duck: 'pond',
        fish: ['sea', 'pond'],
        bird: 'tree',
        bee: 'hive',
        bear: 'forest',
        frog: 'pond',
      },
    },
    {
      name: 'profession',
      template: 'The {subject} went to work at the {object}.',
      subjectType: 'worker',
      objectType: 'workplace',
      subjects: ['doctor', 'teacher', 'farmer', 'baker', 'nurse', 'cook'],
      objects: ['hospital', 'school', 'farm', 'bakery', 'kitchen', 'shop'],
      gold: {
        doctor: 'hospital',
        teacher: 'school',
        farmer: 'farm',
        baker: 'bakery',
        nurse: 'hospital',
        cook: 'kitchen',
      },
    },
  ],
  seeds: ['puppy', 'kitten', 'lamb', 'chick', 'calf', 'duckling', 'sky', 'grass', 'sun', 'doctor', 'teacher', 'farmer'],
};
