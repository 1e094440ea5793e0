import autocannon from 'autocannon';
import type { AddressInfo } from 'node:net';
import { buildServer, type ServerOptions } from '../../server/app.js';

/** The server's defaults, as `interp serve` sets them. */
export const DEFAULTS: ServerOptions = {
  allowHub: false,
  maxModels: 4,
  concurrency: 2,
  queue: 64,
  maxBodyBytes: 1_048_576,
  maxTokens: 512,
  maxPasses: 200_000,
  timeoutMs: 120_000,
};

export interface Running {
  url: string;
  close: () => Promise<void>;
}

/** A server in this process on a free loopback port. */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<Running> {
  const app = buildServer({ ...DEFAULTS, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export interface Answer {
  status: number;
  type: string;
  text: string;
  headers: Headers;
}

export async function call(
  url: string,
  init: { method?: string; body?: string | object; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = typeof init.body === 'object' ? JSON.stringify(init.body) : init.body;
  const r = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    body,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text(), headers: r.headers };
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Answers whose body differed from the expected one. */
  mismatches: number;
}

/** `connections` clients posting `body` for `seconds`; every answer is compared with `expected`. */
export async function loadTest(
  url: string,
  body: object,
  expected: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  let mismatches = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        onResponse: (_status: number, text: string) => {
          if (text !== expected) mismatches++;
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    mismatches,
  };
}
