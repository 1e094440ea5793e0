/**
 * The commands the server does not serve, each with the reason; every other command is a route
 * (`OPERATIONS`). A request for one of these is answered 404 with its reason.
 */
export const CLI_ONLY: Record<string, string> = {
  concepts:
    'cluster, factors, tcav, top and surrogate read a corpus or concept files (concepts lens is served, as /v1/lens)',
  bias: 'swap, pairs and weat read template, pair or SEAT files (swap can take its templates as flags, but has no text, which every route body carries)',
  steer: 'its direction comes from files (a vector, or two prompt files)',
  knowledge: 'it reads a relation file and writes graph files',
  fidelity: "it reads a dataset and writes a records file (the library's fidelity() iterates over examples in memory)",
  bench: 'it times this machine, which a request would time under the load of others',
  'check-method': 'it loads a plugin file',
  deploy: "it prints manifests for this repository's image",
  test: 'it reads a suite file (its templates and datasets too) and writes JUnit XML',
  serve: 'it is the server',
};
