import { Command } from 'commander';
import { derivedKeepMb } from '../src/runtime/derived.js';
import { laneEnv, THREADS } from '../src/runtime/session.js';
import fs from 'node:fs';
import { usageError } from '../src/errors.js';
import type { ServerOptions } from '../server/app.js';
import { examples, optionalInteger, parseInteger } from './common.js';

interface ServeFlags {
  host: string;
  port: string;
  token?: string;
  cors?: string;
  allowLocalModels?: string;
  allowHub?: boolean;
  maxModels: string;
  concurrency: string;
  queue: string;
  maxBody: string;
  maxTokens: string;
  maxPasses: string;
  timeout: string;
  threads?: string;
  log?: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .summary('the engine over HTTP: explain, attention, counterfactual and report, with limits and a token')
    .description(
      'Serve POST /v1/explain, /v1/attention, /v1/counterfactual and /v1/report (bodies take the CLI flags as fields; answers are byte-identical to --json), GET /v1/models, /health, /metrics and /openapi.json.',
    )
    .option('--host <host>', 'address to bind (default: loopback only)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port, printed on stderr)', '8080')
    .option('--token <secret>', 'require "Authorization: Bearer <secret>" on every route but /health (or INTERP_TOKEN)')
    .option('--cors <origin>', 'allow browsers on this one origin to call the API')
    .option('--allow-local-models <dir>', 'let requests name model folders under this folder (nothing outside it)')
    .option('--allow-hub', 'let requests name hub ids (the server downloads them to its cache)')
    .option('--max-models <n>', 'models held at once; the least recently used idle one goes first', '4')
    .option('--concurrency <n>', 'requests computed at once', '2')
    .option('--queue <n>', 'requests waiting beyond those; more get 429', '64')
    .option('--max-body <n>', 'request body size in bytes at most (413 above)', '1048576')
    .option('--max-tokens <n>', 'input tokens per request at most (422 above)', '512')
    .option('--max-passes <n>', 'forward passes per request at most (422 above)', '200000')
    .option('--timeout <n>', 'seconds per request at most (504 after)', '120')
    .option('--threads <n>', 'onnxruntime intra-op threads per model (default: the physical cores)')
    .option('--log', 'log every request as JSON lines on stderr')
    .addHelpText(
      'after',
      examples([
        'interp serve',
        'curl -s localhost:8080/v1/explain -H "content-type: application/json" -d \'{"text": "the film was a delight"}\' | jq .features',
        'INTERP_TOKEN=secret interp serve --host 0.0.0.0 --port 9000 --max-models 2',
        'interp serve --allow-local-models ./models --cors https://notebook.example.com',
      ]),
    )
    .action(async (flags: ServeFlags) => serve(flags));
}

function optionsOf(flags: ServeFlags): ServerOptions & { host: string; port: number } {
  const token = flags.token ?? process.env.INTERP_TOKEN;
  if (token !== undefined && token.length < 8) throw usageError('--token must be at least 8 characters');
  if (flags.allowLocalModels && !fs.statSync(flags.allowLocalModels, { throwIfNoEntry: false })?.isDirectory())
    throw usageError(`--allow-local-models '${flags.allowLocalModels}' is not a folder`);
  return {
    host: flags.host,
    port: parseInteger('--port', flags.port, 0, 65_535),
    token,
    cors: flags.cors,
    allowLocal: flags.allowLocalModels,
    allowHub: Boolean(flags.allowHub),
    maxModels: parseInteger('--max-models', flags.maxModels, 1, 64),
    concurrency: parseInteger('--concurrency', flags.concurrency, 1, 64),
    queue: parseInteger('--queue', flags.queue, 0, 100_000),
    maxBodyBytes: parseInteger('--max-body', flags.maxBody, 1_024, 1_073_741_824),
    maxTokens: parseInteger('--max-tokens', flags.maxTokens, 1, 100_000),
    maxPasses: parseInteger('--max-passes', flags.maxPasses, 1, 100_000_000),
    timeoutMs: parseInteger('--timeout', flags.timeout, 1, 86_400) * 1000,
    threads: optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max),
    logger: Boolean(flags.log),
  };
}

async function serve(flags: ServeFlags): Promise<void> {
  const options = optionsOf(flags);
  // A bad $INTERP_DERIVED_KEEP_MB or $INTERP_LANES* stops the server at start-up, not its first request.
  derivedKeepMb();
  laneEnv();
  // Loaded here, not at start-up: fastify costs every other command about 50 ms of cold start.
  const { buildServer } = await import('../server/app.js');
  const app = buildServer(options);
  const address = await app.listen({ host: options.host, port: options.port });
  process.stderr.write(`interp: serving on ${address}${options.token ? ' (bearer token required)' : ''}\n`);
  // SIGTERM and Ctrl-C: refuse new requests (503), finish those in flight, then exit.
  await new Promise<void>((resolve) => {
    const stop = () => void app.close().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.stderr.write('interp: stopped\n');
}
