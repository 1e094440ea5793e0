import crypto from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { attentionOperation } from '../commands/attention.js';
import { chainOperation } from '../commands/chain.js';
import { circuitOperation } from '../commands/circuit.js';
import { lensOperation } from '../commands/concepts-lens.js';
import { CLI_ONLY } from './cliOnly.js';
import { exploreOperation } from '../commands/explore.js';
import { counterfactualOperation } from '../commands/counterfactual.js';
import { explainOperation } from '../commands/explain.js';
import { patchOperation } from '../commands/patch.js';
import { planFor, type Operation } from '../src/api/operation.js';
import { reportOperation } from '../commands/report.js';
import { DEFAULT_MODEL, EMBEDDED_MODELS } from '../src/model/load.js';
import { seq2seqRefusal } from '../src/model/resolve.js';
import { isSeq2SeqModel, type AnyModel } from '../src/model/seq2seq.js';
import { RunContext, withinCall } from '../src/runtime/context.js';
import { VERSION } from '../src/util/paths.js';
import { argsOf, bodySchema, checkBody, flagsOf, type Body } from '../src/api/fields.js';
import { Gate, Metrics } from './metrics.js';
import { ModelPool, type ModelPolicy } from './models.js';
import { openApi } from './openapi.js';
import { HttpProblem, problem, problemBody, problemOf } from './problems.js';

export interface ServerOptions extends ModelPolicy {
  /** Bearer token every route but /health requires; none: open. */
  token?: string;
  /** The one origin browsers may call from; none: no CORS headers. */
  cors?: string;
  concurrency: number;
  queue: number;
  maxBodyBytes: number;
  maxTokens: number;
  maxPasses: number;
  timeoutMs: number;
  logger?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each route checks its own flags type
type AnyOperation = Operation<any, any>;
export const OPERATIONS: AnyOperation[] = [
  explainOperation,
  attentionOperation,
  counterfactualOperation,
  chainOperation,
  patchOperation,
  reportOperation,
  lensOperation,
  exploreOperation,
  circuitOperation,
];

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Compared in constant time, through digests of equal length. */
function authorised(header: string | undefined, token: string): boolean {
  // The scheme is case-insensitive (RFC 9110, 11.1); the token is not.
  const given = /^bearer +(.+)$/i.exec(header ?? '')?.[1] ?? '';
  return crypto.timingSafeEqual(digest(given), digest(token));
}

/** A fastify validation error in the CLI's words. */
function validationProblem(e: FastifyError): HttpProblem {
  const v = e.validation?.[0];
  const field = (v?.instancePath ?? '').replace(/^\//, '').split('/')[0];
  if (v?.keyword === 'additionalProperties') {
    const name = String((v.params as { additionalProperty: string }).additionalProperty);
    return problem(400, `unknown field '${name}'; the fields are the command's flags without dashes`, name);
  }
  if (v?.keyword === 'required')
    return problem(400, `missing field '${String((v.params as { missingProperty: string }).missingProperty)}'`);
  if (!field) return problem(400, 'the request body must be a JSON object of the command’s flags');
  const types: Record<string, string> = { 'string,number': 'a number or a string', boolean: 'true or false' };
  const wanted = v?.keyword === 'type' ? types[String((v.params as { type: unknown }).type)] : undefined;
  return problem(400, `field '${field}' ${wanted ? `must be ${wanted}` : (v?.message ?? e.message)}`, field);
}

function fastifyProblem(e: FastifyError, maxBodyBytes: number): HttpProblem {
  if (e.validation) return validationProblem(e);
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return problem(413, `the request body is over ${maxBodyBytes} bytes (--max-body)`);
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problem(415, 'send the body as application/json');
  if (e.statusCode === 400) return problem(400, `the request body is not valid JSON: ${e.message}`);
  return problemOf(e);
}

export function sendProblem(reply: FastifyReply, p: HttpProblem): FastifyReply {
  return reply
    .code(p.status)
    .headers(p.headers)
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(p, reply.request.url)) + '\n');
}

/** Authorisation, CORS, latency metrics, and problem+json for every error and unknown route. */
function installHooks(app: FastifyInstance, options: ServerOptions, metrics: Metrics): void {
  const started = new WeakMap<FastifyRequest, bigint>();
  app.addHook('onRequest', async (request, reply) => {
    started.set(request, process.hrtime.bigint());
    if (options.cors) reply.headers({ 'access-control-allow-origin': options.cors, vary: 'Origin' });
    if (request.method === 'OPTIONS' || request.url === '/health' || !options.token) return;
    if (!authorised(request.headers.authorization, options.token))
      return sendProblem(
        reply,
        problem(401, 'the bearer token is missing or wrong', undefined, { 'www-authenticate': 'Bearer' }),
      );
  });
  app.addHook('onResponse', async (request, reply) => {
    const t0 = started.get(request);
    const seconds = t0 === undefined ? 0 : Number(process.hrtime.bigint() - t0) / 1e9;
    metrics.observe(request.routeOptions.url ?? 'unmatched', reply.statusCode, seconds);
  });
  app.setErrorHandler((e: FastifyError, _request, reply) =>
    sendProblem(reply, fastifyProblem(e, options.maxBodyBytes)),
  );
  app.setNotFoundHandler((request, reply) => {
    const url = request.url.split('?')[0];
    const allow = ['GET', 'POST'].filter((method) => app.hasRoute({ method, url }));
    if (allow.length)
      return sendProblem(
        reply,
        problem(405, `${url} takes ${allow.join(' or ')}`, undefined, { allow: allow.join(', ') }),
      );
    const cliOnly = /^\/v1\/([\w-]+)$/.exec(url)?.[1];
    if (cliOnly && Object.hasOwn(CLI_ONLY, cliOnly))
      return sendProblem(reply, problem(404, `${cliOnly} is not served: ${CLI_ONLY[cliOnly]}`));
    return sendProblem(reply, problem(404, `no route ${request.method} ${url}`));
  });
  if (options.cors)
    app.options('*', async (_request, reply) =>
      reply
        .headers({
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization, content-type',
        })
        .code(204)
        .send(),
    );
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.maxBodyBytes,
    ajv: {
      customOptions: {
        allowUnionTypes: true,
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
      },
    },
    return503OnClosing: true,
  });
  // Bodies are JSON only: fastify's own text/plain parser would let a string through to the schema.
  app.removeContentTypeParser('text/plain');
  const pool = new ModelPool(options);
  const gate = new Gate(options.concurrency, options.queue);
  const metrics = new Metrics();
  const shared: Shared = { pool, gate, metrics, options };
  // Closing: the answers still in flight end their connections, so that shutdown need not wait out keep-alive.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  installHooks(app, options, metrics);
  app.get('/health', async () => ({ status: 'ok', version: VERSION }));
  app.get('/v1/models', async () => ({
    embedded: Object.keys(EMBEDDED_MODELS),
    default: DEFAULT_MODEL,
    loaded: await pool.list(),
  }));
  app.get('/metrics', async (_request, reply) =>
    reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .send(metrics.text({ modelsLoaded: pool.size, inFlight: gate.inFlight, queued: gate.queued })),
  );
  app.get('/openapi.json', async () => openApi(OPERATIONS, options));
  for (const op of OPERATIONS) {
    const schema = bodySchema(op.command(), options.maxTokens * 32);
    app.post(`/v1/${op.name}`, { schema: { body: schema } }, async (request, reply) => {
      const document = await execute(shared, op, checkBody(request.body), reply);
      return reply.type(`${op.contentType}; charset=utf-8`).send(document);
    });
  }

  return app;
}

interface Shared {
  pool: ModelPool;
  gate: Gate;
  metrics: Metrics;
  options: ServerOptions;
}

/** One request through the same plan as the CLI, under the server's limits. */
async function execute({ pool, gate, metrics, options }: Shared, op: AnyOperation, body: Body, reply: FastifyReply) {
  const cmd = op.command();
  const flags = flagsOf(cmd, body);
  if (typeof flags.proposer === 'string' && flags.proposer.startsWith('list:'))
    throw problem(403, 'list proposers read a file; this server takes none (use embedding or mlm)', 'proposer');
  const held: (() => void)[] = [];
  const open = async (name: string, dtype: string, field: string): Promise<AnyModel> => {
    const { model, release } = await pool.acquire(name, dtype, field);
    held.push(release);
    return model;
  };
  const work = planFor(op, String(body.text), flags, {
    // Helper models (a proposer, a fluency judge) load in fp32, as the CLI loads them.
    open: async (spec, field) => {
      const helper = await open(spec, 'fp32', field);
      if (isSeq2SeqModel(helper)) throw seq2seqRefusal(spec);
      return helper;
    },
    args: argsOf(cmd, body),
  });
  if (!(await gate.enter())) throw problem(429, 'the server is busy; try again', undefined, { 'retry-after': '1' });
  const call = RunContext.call({ maxPasses: options.maxPasses });
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) call.stopped ??= 'the client went away';
  });
  const computing = (async () => {
    const model = await open(String(flags.model ?? DEFAULT_MODEL), String(flags.dtype ?? 'fp32'), 'model');
    checkLength(model, String(body.text), options.maxTokens);
    return withinCall(call, () => work(model));
  })().finally(() => {
    metrics.forwardPasses += call.forward;
    gate.leave();
    for (const release of held) release();
  });
  return op.document(await timed(computing, options.timeoutMs, call), flags);
}

function checkLength(model: AnyModel, text: string, maxTokens: number): void {
  const tokens = model.tokenizer.encode(text).length;
  if (tokens > maxTokens)
    throw problem(422, `the text has ${tokens} tokens; this server takes at most ${maxTokens} (--max-tokens)`, 'text');
}

/** The computation, or a 504 when it outlives the timeout; it then stops at its next batch. */
function timed<T>(work: Promise<T>, ms: number, call: RunContext): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      call.stopped = 'timed out';
      reject(problem(504, `the request took longer than ${ms / 1000} s (--timeout)`));
    }, ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
