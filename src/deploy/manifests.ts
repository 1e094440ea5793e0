/**
 * Manifests for running interp beyond one machine, as plain objects (YAML or JSON when printed): a
 * Kubernetes Indexed Job for a sharded fidelity run and the Job that merges its shards, a Deployment and
 * Service for `serve`, and an AWS Batch array job definition. `interp deploy` prints them for a given run;
 * the files in deploy/ are these builders' output for the documented defaults.
 */

import { fargateSize, mebibytes } from './fargate.js';

export interface ShardedRun {
  /** Job name (a DNS label). */
  name: string;
  image: string;
  /** Array tasks: the dataset is cut into this many shards. */
  shards: number;
  /** Tasks running at once. */
  parallelism: number;
  /** The dataset, as the container sees it (on the shared volume). */
  data: string;
  /** interp's arguments after `fidelity --data DATA` (methods, limits, gates...). */
  args: string[];
  /** The PersistentVolumeClaim the shards write to and the summarize Job reads. */
  volumeClaim: string;
  /** Requests per task, from BENCHMARKS.md (the embedded classifier's fidelity run peaks at 426 MB). */
  cpu: string;
  memory: string;
}

export const SHARDED_DEFAULTS: ShardedRun = {
  name: 'interp-fidelity',
  image: 'interp:latest',
  shards: 50,
  parallelism: 10,
  data: '/mnt/interp/data/dev.tsv',
  args: ['--methods', 'occlusion,kernel-shap,integrated-gradients,random'],
  volumeClaim: 'interp-work',
  cpu: '1',
  memory: '768Mi',
};

const RESULTS = '/mnt/interp/results';
const workVolume = (claim: string) => [{ name: 'work', persistentVolumeClaim: { claimName: claim } }];
const workMount = [{ name: 'work', mountPath: '/mnt/interp' }];

/** What each array task runs: its shard of the dataset, into a results file of its own (resumed on retry). */
const taskArgs = (run: ShardedRun) => [
  ...['fidelity', '--data', run.data, ...run.args],
  ...['--shard', 'auto', '--out', `${RESULTS}/shard-{index}.jsonl`],
];

/** A Job's pod template: one unprivileged container with the shared volume at /mnt/interp, never restarted in place. */
function jobTemplate(job: string, claim: string, container: object): object {
  return {
    metadata: { labels: { app: 'interp', job } },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 1000 },
      containers: [{ name: 'interp', ...container, volumeMounts: workMount }],
      volumes: workVolume(claim),
    },
  };
}

/**
 * The Indexed Job: task i runs `--shard auto`, which reads JOB_COMPLETION_INDEX; Kubernetes gives no
 * count, so INTERP_SHARD_COUNT carries the completions. A retried task resumes its own results file.
 */
export function fidelityIndexedJob(run: ShardedRun): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: run.name, labels: { app: 'interp' } },
    spec: {
      completionMode: 'Indexed',
      completions: run.shards,
      parallelism: run.parallelism,
      backoffLimitPerIndex: 3,
      maxFailedIndexes: 0,
      template: jobTemplate(run.name, run.volumeClaim, {
        image: run.image,
        args: taskArgs(run),
        env: [{ name: 'INTERP_SHARD_COUNT', value: String(run.shards) }],
        resources: { requests: { cpu: run.cpu, memory: run.memory }, limits: { memory: doubled(run.memory) } },
      }),
    },
  };
}

/** The Job that merges the shards into one leaderboard (its gates, from the run's args, exit 3 there). */
export function summarizeJob(run: ShardedRun): object {
  const merge = ['interp fidelity summarize', `${RESULTS}/shard-*.jsonl`, ...gateArgs(run.args), '--json'];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${run.name}-summarize`, labels: { app: 'interp' } },
    spec: {
      backoffLimit: 0,
      template: jobTemplate(`${run.name}-summarize`, run.volumeClaim, {
        image: run.image,
        // The shard files are many: the shell lists them (interp takes the files, not a pattern).
        command: ['sh', '-c'],
        args: [`${merge.join(' ')} > ${RESULTS}/leaderboard.json`],
        resources: { requests: { cpu: '250m', memory: '256Mi' } },
      }),
    },
  };
}

/** The --min/--max gates among a run's arguments: summarize applies them to the merged leaderboard. */
function gateArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if ((a === '--min' || a === '--max') && args[i + 1] !== undefined) out.push(a, args[i + 1]);
  });
  return out;
}

function doubled(memory: string): string {
  const m = /^(\d+)(Mi|Gi)$/.exec(memory);
  return m ? `${Number(m[1]) * 2}${m[2]}` : memory;
}

export interface Service {
  name: string;
  image: string;
  replicas: number;
  port: number;
  /** The Secret holding the bearer token (key `token`), read into INTERP_TOKEN. */
  tokenSecret: string;
  cpu: string;
  memory: string;
}

export const SERVE_DEFAULTS: Service = {
  name: 'interp',
  image: 'interp:latest',
  replicas: 2,
  port: 8080,
  tokenSecret: 'interp-token',
  cpu: '1',
  memory: '768Mi',
};

/**
 * `interp serve` as a Deployment and a Service: bound to 0.0.0.0 only because the container asks for it
 * (`--host 0.0.0.0`), the token from a Secret, ready when /health answers.
 */
export function serveManifests(s: Service): object[] {
  const labels = { app: s.name };
  const health = { httpGet: { path: '/health', port: s.port } };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: s.name, labels },
      spec: {
        replicas: s.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 1000 },
            containers: [
              {
                name: 'interp',
                image: s.image,
                args: ['serve', '--host', '0.0.0.0', '--port', String(s.port)],
                ports: [{ containerPort: s.port, name: 'http' }],
                env: [{ name: 'INTERP_TOKEN', valueFrom: { secretKeyRef: { name: s.tokenSecret, key: 'token' } } }],
                readinessProbe: { ...health, initialDelaySeconds: 2, periodSeconds: 5 },
                livenessProbe: { ...health, initialDelaySeconds: 10, periodSeconds: 20 },
                resources: { requests: { cpu: s.cpu, memory: s.memory }, limits: { memory: doubled(s.memory) } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: s.port }] },
    },
  ];
}

/**
 * An AWS Batch array job definition (RegisterJobDefinition's input): the array index and size come from
 * AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE, which `--shard auto` reads; the array size is
 * given when the job is submitted (`--array-properties size=N`).
 */
export function batchJobDefinition(run: ShardedRun): object {
  // Fargate's memory is a hard limit, as the Kubernetes manifests' limit (twice the request) is.
  const size = fargateSize(run.cpu, 2 * mebibytes(run.memory));
  return {
    jobDefinitionName: run.name,
    type: 'container',
    platformCapabilities: ['FARGATE'],
    retryStrategy: { attempts: 3 },
    containerProperties: {
      image: run.image,
      command: taskArgs(run),
      resourceRequirements: [
        { type: 'VCPU', value: size.vcpu },
        { type: 'MEMORY', value: size.memory },
      ],
      user: '1000',
      networkConfiguration: { assignPublicIp: 'DISABLED' },
      fargatePlatformConfiguration: { platformVersion: 'LATEST' },
      executionRoleArn: 'arn:aws:iam::123456789012:role/interp-batch-execution',
      mountPoints: [{ sourceVolume: 'work', containerPath: '/mnt/interp' }],
      volumes: [{ name: 'work', efsVolumeConfiguration: { fileSystemId: 'fs-00000000', rootDirectory: '/' } }],
    },
  };
}
