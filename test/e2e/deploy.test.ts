import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
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
const require = createRequire(import.meta.url);
const deployFile = (name: string) => fs.readFileSync(path.join(repoRoot, 'deploy', name), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read field by field, as kubectl would
type Manifest = { kind: string; spec: any };
const documents = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as Manifest);

describe('interp deploy', () => {
  const printed: [string, string[]][] = [
    ['fidelity-indexed-job.yaml', ['deploy', 'indexed-job', '--data', '/mnt/interp/data/dev.tsv']],
    ['serve.yaml', ['deploy', 'serve']],
    ['batch-job-definition.json', ['deploy', 'batch', '--data', '/mnt/interp/data/dev.tsv']],
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
      a === '/mnt/interp/data/dev.tsv' ? data : a.replace('/mnt/interp/results', dir),
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
      /^interp fidelity summarize \/mnt\/interp\/results\/shard-\*\.jsonl --json > \/mnt\/interp\/results\/leaderboard\.json$/,
    );
  });

  it('the serve Deployment binds 0.0.0.0 only because its args say so, reads the token from a Secret, and is ready on /health', () => {
    const [deployment] = documents(deployFile('serve.yaml'));
    const c = deployment.spec.template.spec.containers[0];
    expect(c.args).toEqual(['serve', '--host', '0.0.0.0', '--port', '8080']);
    expect(c.env[0].valueFrom.secretKeyRef).toEqual({ name: 'interp-token', key: 'token' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 8080 });
  });

  it('the AWS Batch definition type-checks as RegisterJobDefinition’s input (@aws-sdk/client-batch), and a misspelt one does not', () => {
    // Written inside node_modules so that the SDK's types resolve from the repository's own install.
    const dir = path.join(repoRoot, 'node_modules', '.cache', 'interp-batch-check');
    fs.mkdirSync(dir, { recursive: true });
    const check = (name: string, definition: string) => {
      const file = path.join(dir, `${name}.ts`);
      const head = "import type { RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';\n";
      fs.writeFileSync(
        file,
        `${head}export const d = ${definition.trim()} satisfies RegisterJobDefinitionCommandInput;\n`,
      );
      return file;
    };
    const printed = deployFile('batch-job-definition.json');
    const good = check('good', printed);
    const broken = check(
      'broken',
      printed.replace('"FARGATE"', '"FARGATEX"').replace('"resourceRequirements"', '"resourceRequirement"'),
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck'];
    let out = '';
    try {
      execFileSync(process.execPath, [tsc, ...flags, good, broken], { encoding: 'utf8' });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    const errors = out.split('\n').filter((l) => /error TS/.test(l));
    expect(errors.filter((l) => l.includes('good.ts'))).toEqual([]);
    expect(errors.some((l) => l.includes('broken.ts') && l.includes('FARGATEX'))).toBe(true);
    expect(errors.some((l) => l.includes('broken.ts') && l.includes('resourceRequirement'))).toBe(true);
  });

  it('its Fargate sizes are ones the SDK documents for RegisterJobDefinition (read from its own types), the smallest that hold the limit', async () => {
    // The SDK's documentation of ResourceRequirement lists, for each VCPU value, the MEMORY values Fargate takes.
    const docs = fs
      .readFileSync(require.resolve('@aws-sdk/client-batch/dist-types/models/models_0.d.ts'), 'utf8')
      .replace(/<[^>]*>/g, '');
    const table = docs.slice(docs.indexOf('The supported values are 0.25, 0.5, 1, 2, 4, 8, 16, and'));
    const offered = new Map<number, number[]>();
    for (const m of table.matchAll(/value = ([\d.]+)[\s*]+MEMORY = ([\d,\s*or]+)/g))
      offered.set(Number(m[1]), m[2].match(/\d+/g)!.map(Number));
    expect([...offered.keys()]).toEqual([0.25, 0.5, 1, 2, 4, 8, 16, 32]);
    for (const [cpu, memory] of [
      ['250m', '256Mi'],
      ['0.5', '768Mi'],
      ['1', '768Mi'],
      ['2', '3Gi'],
      ['8', '9Gi'],
    ]) {
      const r = await runInProcess(['deploy', 'batch', '--data', 'x', '--cpu', cpu, '--memory', memory]);
      expectExit(r, 0);
      const [vcpu, mib] = (JSON.parse(r.stdout).containerProperties.resourceRequirements as { value: string }[]).map(
        (q) => Number(q.value),
      );
      const limit = 2 * Number(memory.slice(0, -2)) * (memory.endsWith('Gi') ? 1024 : 1);
      expect(offered.get(vcpu), `${cpu} ${memory}`).toContain(mib);
      expect(mib).toBe(Math.min(...offered.get(vcpu)!.filter((m) => m >= limit)));
    }
    expectExit(
      await runInProcess(['deploy', 'batch', '--data', 'x', '--cpu', '3']),
      2,
      /0\.25, 0\.5, 1, 2, 4, 8, 16, 32 vCPUs/,
    );
    expectExit(
      await runInProcess(['deploy', 'batch', '--data', 'x', '--cpu', '250m', '--memory', '2Gi']),
      2,
      /--memory: a limit of 4096 MiB .* raise the CPU/,
    );
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
