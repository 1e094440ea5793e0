/**
 * The golden corpus: CLI invocations whose output is recorded byte for byte. Placeholders:
 * `@additive`, `@lm`, `@biased`, `@topic` are planted models; `@distilbert`, `@llama` and `@shared`
 * are ../shared; `@in` is test/e2e/golden/inputs; `@out` is a fresh folder whose files are hashed.
 */
export interface GoldenCase {
  name: string;
  args: string[];
  shared?: boolean;
  /** JSON keys whose values vary run to run (timings, dates, the machine): recorded as "<volatile>". */
  volatile?: string[];
}

const s = (name: string, ...args: string[]): GoldenCase => ({ name, args, shared: true });
const e = (name: string, ...args: string[]): GoldenCase => ({ name, args });

export const CASES: GoldenCase[] = [
  e('help', '--help'),
  e('explain-help', 'explain', '--help'),
  e('explain-default', 'explain', 'the film was a delight'),
  e('explain-json', 'explain', 'the film was a delight', '--json'),
  e('explain-word-shapley', 'explain', 'not a good film , really', '--method', 'shapley', '--granularity', 'word', '--score', 'log-odds', '--json'),
  e('explain-kernel-shap-seed', 'explain', 'the plot was thin', '--method', 'kernel-shap', '--samples', '200', '--seed', '7', '--json'),
  e('explain-lime', 'explain', 'the plot was thin', '--method', 'lime', '--samples', '300', '--seed', '3', '--json'),
  e('explain-partition', 'explain', 'a gripping , well acted film', '--method', 'partition-shap', '--max-evals', '100', '--json'),
  e('explain-ig', 'explain', 'the film was a delight', '--method', 'integrated-gradients', '--steps', '16', '--score', 'logit', '--json'),
  e('explain-ig-tolerance', 'explain', 'the film was a delight', '--method', 'integrated-gradients', '--tolerance', '0.01', '--score', 'logit', '--json'),
  e('explain-smoothgrad', 'explain', 'the film was a delight', '--method', 'smoothgrad', '--samples', '5', '--json'),
  e('explain-compare', 'explain', 'the plot was thin', '--compare', 'occlusion,kernel-shap,grad-x-input,attention', '--samples', '100'),
  e('explain-compare-json', 'explain', 'the plot was thin', '--compare', 'saliency,rollout,random', '--baseline', 'mask', '--json'),
  e('explain-svg', 'explain', 'the film was a delight', '--top', '3', '--svg', '@out/a.svg'),
  e('explain-occlusion-window', 'explain', 'the film was a delight to watch', '--window', '2', '--stride', '2', '--baseline', 'unk', '--json'),
  e('explain-lm-generate', 'explain', 'the film was', '--model', 'tiny-lm', '--generate', '3', '--method', 'occlusion', '--json'),
  e('explain-lm-target', 'explain', 'the film was', '--model', 'tiny-lm', '--target', 'id:5', '--method', 'grad-x-input', '--json'),
  e('explain-additive', 'explain', 'the movie was great but dull', '--model', '@additive', '--score', 'logit'),
  e('explain-additive-ig', 'explain', 'great but dull', '--model', '@additive', '--method', 'integrated-gradients', '--score', 'logit', '--json'),
  e('explain-induction', 'explain', 'c f a h k b x q c f a', '--model', '@lm', '--json'),
  e('explain-bad-method', 'explain', 'x', '--method', 'nope'),
  e('explain-bad-steps', 'explain', 'x', '--method', 'integrated-gradients', '--steps', '0'),
  e('attention-json', 'attention', 'the cat sat on the mat', '--json', '--induction-length', '8'),
  e('attention-layer-head', 'attention', 'c f a h k b c f', '--model', '@lm', '--layer', '0', '--head', '0', '--top', '3'),
  e('attention-rollout', 'attention', 'a gripping , well acted film', '--rollout', '--json'),
  e('attention-flow-flat', 'attention', 'a gripping , well acted film', '--flow', '--json', '--format', 'flat'),
  e('attention-norm', 'attention', 'a gripping , well acted film', '--norm', '--layer', '0', '--json', '--format', 'flat'),
  e('attention-gradient', 'attention', 'a gripping , well acted film', '--gradient', '--score', 'logit', '--top', '5'),
  e('attention-sort-induction', 'attention', 'c f a h k b x q c f a h', '--model', '@lm', '--sort', 'induction', '--json'),
  e('attention-svg', 'attention', 'the cat sat', '--svg', '@out/m.svg'),
  e('concepts-cluster', 'concepts', 'cluster', '--model', '@topic', '--data', '@in/corpus.txt', '--layer', '1', '--k', '2', '--json'),
  e('concepts-cluster-auto', 'concepts', 'cluster', '--data', '@in/corpus.txt', '--layer', '1', '--k', 'auto'),
  e('concepts-factors', 'concepts', 'factors', '--data', '@in/corpus.txt', '--n', '3', '--text', 'the film was a delight', '--json'),
  e('concepts-lens', 'concepts', 'lens', 'the film was', '--model', 'tiny-lm', '--json'),
  e('concepts-tcav', 'concepts', 'tcav', '--model', '@additive', '--concept', '@in/concept.txt', '--random', '@in/random.txt', '--inputs', '@in/inputs.txt', '--layer', '0', '--target', 'POSITIVE', '--runs', '4', '--json'),
  e('bias-swap', 'bias', 'swap', '--model', '@biased', '--templates', '@in/templates.txt', '--groups', '@in/groups.json', '--score', 'logit', '--permutations', '500', '--json'),
  e('bias-swap-explain', 'bias', 'swap', '--model', '@biased', '--template', 'the film was not {group}', '--groups', '@in/groups.json', '--score', 'logit', '--explain', '--explain-groups', 'male,female', '--permutations', '200', '--json'),
  e('bias-swap-table', 'bias', 'swap', '--template', 'The {group} was a great {job}.', '--slot', 'job=doctor,nurse', '--groups', 'gender', '--permutations', '200'),
  e('bias-weat-bad', 'bias', 'weat', '--data', '@in/missing.jsonl'),
  e('fidelity-planted', 'fidelity', '--model', '@additive', '--data', '@in/dev.tsv', '--methods', 'occlusion,shapley,random', '--score', 'log-odds', '--json'),
  e('fidelity-table', 'fidelity', '--data', '@in/dev.tsv', '--methods', 'occlusion,integrated-gradients,attention', '--stability'),
  e('fidelity-gate', 'fidelity', '--model', '@additive', '--data', '@in/dev.tsv', '--methods', 'occlusion,random', '--min', 'comprehensiveness=0.99'),
  e('fidelity-sanity', 'fidelity', '--data', '@in/dev.tsv', '--methods', 'grad-x-input,random', '--sanity', '2', '--json'),
  {
    name: 'bench-json',
    args: ['bench', '--methods', 'occlusion,saliency,kernel-shap,integrated-gradients', '--lengths', '8,12', '--runs', '1', '--warmup', '0', '--samples', '40', '--json'],
    volatile: ['date', 'machine', 'medianMs', 'minMs', 'maxMs', 'rawMs', 'ratio', 'forwardMs', 'vsForwards', 'explanationsPerSecond', 'tokensPerSecond', 'peakRssMb'],
  },
  e('bench-bad-methods', 'bench', '--methods', 'nope'),
  s('shared-explain-distilbert', 'explain', 'a gripping , well acted film', '--model', '@distilbert', '--method', 'kernel-shap', '--samples', '200', '--json'),
  s('shared-explain-llama', 'explain', 'Once upon a time', '--model', '@llama', '--continuation', ', there was', '--method', 'integrated-gradients', '--steps', '8', '--json'),
  s('shared-attention-llama', 'attention', 'Once upon a time there was a girl', '--model', '@llama', '--sort', 'induction', '--top', '4'),
  s('shared-lens-llama', 'concepts', 'lens', 'Once upon a time, there was a little', '--model', '@llama', '--json'),
  s('shared-weat', 'bias', 'weat', '--model', '@distilbert', '--data', '@shared/data/seat/weat1.jsonl', '--permutations', '500', '--json'),
  s('shared-pairs', 'bias', 'pairs', '--model', '@llama', '--data', '@shared/data/crows-pairs/crows_pairs_anonymized.csv', '--limit', '12', '--json'),
  s('shared-fidelity-glue', 'fidelity', '--model', '@distilbert', '--data', '@shared/data/sst2/glue-dev.tsv', '--limit', '6', '--methods', 'occlusion,kernel-shap,integrated-gradients', '--json'),
  s('shared-fidelity-eraser', 'fidelity', '--model', '@distilbert', '--data', '@shared/data/eraser-movies/movie_dev_subset.json', '--limit', '2', '--methods', 'occlusion,random', '--naopc-max-features', '0', '--json'),
];
