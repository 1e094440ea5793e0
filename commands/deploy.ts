import { Command } from 'commander';
import { stringify } from 'yaml';
import {
  batchJobDefinition,
  fidelityIndexedJob,
  serveManifests,
  SERVE_DEFAULTS,
  SHARDED_DEFAULTS,
  summarizeJob,
  type ShardedRun,
} from '../src/deploy/manifests.js';
import { usageError } from '../src/errors.js';
import { collect, examples, parseInteger } from './common.js';
import { writeStdout } from './output.js';

interface RunFlags {
  data: string;
  shards: string;
  parallelism: string;
  image: string;
  name: string;
  claim: string;
  methods: string;
  limit?: string;
  min: string[];
  max: string[];
  cpu: string;
  memory: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/;
const QUANTITY = /^\d+(\.\d+)?m?$/;
const MEMORY = /^\d+(Mi|Gi)$/;

function runOf(flags: RunFlags): ShardedRun {
  if (!DNS_LABEL.test(flags.name)) throw usageError(`--name must be a DNS label (a-z, 0-9, -), got '${flags.name}'`);
  if (!QUANTITY.test(flags.cpu)) throw usageError(`--cpu must be a CPU quantity (1, 0.5, 500m), got '${flags.cpu}'`);
  if (!MEMORY.test(flags.memory)) throw usageError(`--memory must be like 768Mi or 2Gi, got '${flags.memory}'`);
  const shards = parseInteger('--shards', flags.shards, 1, 100_000);
  const args = [
    '--methods',
    flags.methods,
    ...(flags.limit ? ['--limit', String(parseInteger('--limit', flags.limit, 1, 10_000_000))] : []),
  ];
  for (const m of flags.min) args.push('--min', m);
  for (const m of flags.max) args.push('--max', m);
  return {
    ...{ name: flags.name, image: flags.image, data: flags.data, volumeClaim: flags.claim, cpu: flags.cpu },
    ...{ shards, parallelism: parseInteger('--parallelism', flags.parallelism, 1, shards), args, memory: flags.memory },
  };
}

function runCommand(name: string, summary: string, print: (run: ShardedRun) => string): Command {
  const d = SHARDED_DEFAULTS;
  return new Command(name)
    .summary(summary)
    .requiredOption('--data <path>', 'the dataset as the container sees it (on the shared volume)')
    .option('--shards <n>', 'array tasks (each runs one shard)', String(d.shards))
    .option('--parallelism <n>', 'tasks at once (Kubernetes)', String(d.parallelism))
    .option('--image <image>', 'the interp image (see the Dockerfile)', d.image)
    .option('--name <name>', 'job name', d.name)
    .option('--claim <pvc>', 'PersistentVolumeClaim mounted at /mnt/interp (Kubernetes)', d.volumeClaim)
    .option('--methods <list>', 'fidelity --methods', d.args[1])
    .option('--limit <n>', 'fidelity --limit')
    .option('--min <metric=value>', 'a gate, checked on the merged leaderboard (repeatable)', collect, [])
    .option('--max <metric=value>', 'a gate, checked on the merged leaderboard (repeatable)', collect, [])
    .option('--cpu <quantity>', 'CPU per task', d.cpu)
    .option('--memory <quantity>', 'memory request per task (the limit is twice it)', d.memory)
    .action(async (flags: RunFlags) => writeStdout(print(runOf(flags))));
}

export function deployCommand(): Command {
  const cmd = new Command('deploy')
    .summary('print manifests that run interp beyond one machine: Kubernetes Indexed Jobs, AWS Batch, serve')
    .description(
      'Print ready-to-apply manifests for a sharded fidelity run (the shards merge byte-identically) or for `serve`.',
    );
  cmd.addCommand(
    runCommand(
      'indexed-job',
      'a Kubernetes Indexed Job for a sharded fidelity run, and the Job that merges it',
      (run) => [fidelityIndexedJob(run), summarizeJob(run)].map((m) => stringify(m)).join('---\n'),
    ),
  );
  cmd.addCommand(
    runCommand(
      'batch',
      'an AWS Batch array job definition (JSON) for a sharded fidelity run',
      (run) => JSON.stringify(batchJobDefinition(run), null, 2) + '\n',
    ),
  );
  cmd.addCommand(
    new Command('serve')
      .summary('a Kubernetes Deployment and Service for interp serve, the token from a Secret')
      .option('--image <image>', 'the interp image', SERVE_DEFAULTS.image)
      .option('--replicas <n>', 'pods', String(SERVE_DEFAULTS.replicas))
      .option('--secret <name>', 'the Secret whose key `token` is the bearer token', SERVE_DEFAULTS.tokenSecret)
      .action(async (flags: { image: string; replicas: string; secret: string }) => {
        const replicas = parseInteger('--replicas', flags.replicas, 1, 1_000);
        const manifests = serveManifests({
          ...SERVE_DEFAULTS,
          image: flags.image,
          replicas,
          tokenSecret: flags.secret,
        });
        await writeStdout(manifests.map((m) => stringify(m)).join('---\n'));
      }),
  );
  return cmd.addHelpText(
    'after',
    examples([
      'interp deploy indexed-job --data /mnt/interp/data/dev.tsv --shards 50 --methods occlusion,kernel-shap --min comprehensiveness=0.3 | kubectl apply -f -',
      'interp deploy batch --data /mnt/interp/data/dev.tsv --shards 50 > job-definition.json',
      'interp deploy serve --image registry.example/interp:0.1.0 --replicas 3 | kubectl apply -f -',
    ]),
  );
}
