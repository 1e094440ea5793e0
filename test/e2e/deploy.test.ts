import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot, tempDir } from '../helpers.js';
import { expectExit, runInProcess } from '../support/inProcess.js';

// Issue 36: the manifests in deploy/ are what `interp deploy` prints, they validate against the Kubernetes
// schemas, and the command lines they give the container run.
const MODELS: Record<string, new (data: object) => { validate(): void }> = { Job, Deployment, Service };
const deployFile = (name: string) => fs.readFileSync(path.join(repoRoot, 'deploy', name), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read field by field, as kubectl would
type Manifest = { kind: string; spec: any };
const documents = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as Manifest);

describe('interp deploy', () => {
  const printed: [string, string[]][] = [
    ['fidelity-indexed-job.yaml', ['deploy', 'indexed-job', '--data', '/work/data/dev.tsv']],
    ['serve.yaml', ['deploy', 'serve']],
    ['batch-job-definition.json', ['deploy', 'batch', '--data', '/work/data/dev.tsv']],
  ];
  for (const [file, args] of printed)
    it(`deploy/${file} is what \`interp ${args.slice(0, 2).join(' ')}\` prints for the defaults`, async () => {
      const r = await runInProcess(args);
      expectExit(r, 0);
      expect(r.stdout).toBe(deployFile(file));
    });

  it('every Kubernetes manifest validates against its schema (kubernetes-models), and a broken one does not', () => {
    const all = [...documents(deployFile('fidelity-indexed-job.yaml')), ...documents(deployFile('serve.yaml'))];
    expect(all.map((d) => d.kind)).toEqual(['Job', 'Job', 'Deployment', 'Service']);
    for (const doc of all) expect(() => new MODELS[doc.kind](doc).validate(), doc.kind).not.toThrow();
    const broken = documents(deployFile('fidelity-indexed-job.yaml'))[0];
    broken.spec.completions = 'fifty';
    expect(() => new Job(broken).validate()).toThrow(/completions must be integer/);
  });

  it('the Indexed Job gives --shard auto its count, and its command line runs as each task would', async () => {
    const [job, summarize] = documents(deployFile('fidelity-indexed-job.yaml'));
    const container = job.spec.template.spec.containers[0];
    expect(job.spec.completionMode).toBe('Indexed');
    expect(container.env).toContainEqual({ name: 'INTERP_SHARD_COUNT', value: String(job.spec.completions) });
    const dir = tempDir('interp-deploy-');
    const data = path.join(dir, 'dev.tsv');
    fs.writeFileSync(data, 'sentence\tlabel\nthe film was a delight\t1\na dull movie\t0\nfine\t1\n');
    const args = (container.args as string[]).map((a) =>
      a === '/work/data/dev.tsv' ? data : a.replace('/work/results', dir),
    );
    const saved = { ...process.env };
    Object.assign(process.env, { JOB_COMPLETION_INDEX: '1', INTERP_SHARD_COUNT: '2' });
    try {
      expectExit(await runInProcess([...args, '--methods', 'occlusion']), 0);
    } finally {
      delete process.env.JOB_COMPLETION_INDEX;
      if (saved.INTERP_SHARD_COUNT === undefined) delete process.env.INTERP_SHARD_COUNT;
    }
    expect(fs.readFileSync(path.join(dir, 'shard-1.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    // The AWS Batch definition runs the same task command line.
    const batch = JSON.parse(deployFile('batch-job-definition.json')) as { containerProperties: { command: string[] } };
    expect(batch.containerProperties.command).toEqual(container.args);
    expect(summarize.spec.template.spec.containers[0].args[0]).toMatch(
      /^interp fidelity summarize \/work\/results\/shard-\*\.jsonl --json > \/work\/results\/leaderboard\.json$/,
    );
  });

  it('the serve Deployment binds 0.0.0.0 only because its args say so, reads the token from a Secret, and is ready on /health', () => {
    const [deployment] = documents(deployFile('serve.yaml'));
    const c = deployment.spec.template.spec.containers[0];
    expect(c.args).toEqual(['serve', '--host', '0.0.0.0', '--port', '8080']);
    expect(c.env[0].valueFrom.secretKeyRef).toEqual({ name: 'interp-token', key: 'token' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 8080 });
  });

  it('refuses names, quantities and counts out of bounds', async () => {
    expectExit(await runInProcess(['deploy', 'indexed-job', '--data', 'x', '--name', 'Bad_Name']), 2, /DNS label/);
    expectExit(await runInProcess(['deploy', 'indexed-job', '--data', 'x', '--memory', '2GB']), 2, /768Mi or 2Gi/);
    expectExit(await runInProcess(['deploy', 'indexed-job', '--data', 'x', '--shards', '0']), 2, /--shards/);
    expectExit(
      await runInProcess(['deploy', 'indexed-job', '--data', 'x', '--shards', '4', '--parallelism', '5']),
      2,
      /--parallelism/,
    );
  });
});

describe('the container image', () => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const ignored = fs
    .readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const copies = (stage: string) =>
    [...stage.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1].trim().split(/\s+/).slice(0, -1));

  it('the build stage copies only what the build context keeps, and all that tsc compiles', () => {
    const sources = copies(stages[0]);
    for (const s of sources) {
      expect(fs.existsSync(path.join(repoRoot, s)), s).toBe(true);
      expect(
        ignored.some((i) => s === i || s.startsWith(`${i}/`)),
        `${s} is in .dockerignore`,
      ).toBe(false);
    }
    const tsconfig = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tsconfig.json'), 'utf8')) as { include: string[] };
    for (const pattern of tsconfig.include) expect(sources, pattern).toContain(pattern.split('/')[0]);
    expect(stages[0]).toMatch(/npm ci && npm prune --omit=dev/);
  });

  it('the runtime stage holds every top-level entry `npm pack` ships, runs as a non-root user, with interp as the entrypoint', () => {
    const runtime = stages[1];
    const shipped = [...runtime.matchAll(/^COPY (?:--from=build \/app\/(\S+) \S+|(.+))$/gm)].flatMap((m) =>
      m[1] ? [m[1]] : m[2].trim().split(/\s+/).slice(0, -1),
    );
    // What the published package holds, by `npm pack --dry-run`: the image must hold each top-level entry.
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' }),
    ) as { files: { path: string }[] }[];
    const entries = new Set(packed.files.map((f) => f.path.split('/')[0]));
    expect([...entries].sort()).toEqual(['README.md', 'assets', 'bin', 'dist', 'models', 'package.json']);
    for (const entry of entries) expect(shipped, entry).toContain(entry);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["interp"\]$/m);
  });
});
