// The filler sentence the side-by-side and the thread measurements cut their inputs from (n words, repeated).
const SENTENCE =
  'the film was a quiet delight with sharp writing and warm performances though the middle act drags ' +
  'and some jokes fall flat while the ending lands with real feeling and the score is lovely';

export function words(n) {
  const all = [];
  while (all.length < n) all.push(...SENTENCE.split(' '));
  return all.slice(0, n).join(' ');
}
