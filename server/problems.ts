import { cliParam, InterpError } from '../src/errors.js';

/** An answer other than 200, as RFC 9457 problem details. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly param?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const STATUS_OF_KIND = { usage: 400, limit: 422, runtime: 500, threshold: 422 } as const;
const TITLE: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request too large',
  415: 'Unsupported media type',
  422: 'Over a limit',
  429: 'Too many requests',
  500: 'Runtime failure',
  503: 'Shutting down',
  504: 'Timed out',
};

export const problem = (status: number, detail: string, param?: string, headers?: Record<string, string>) =>
  new HttpProblem(status, TITLE[status] ?? 'Error', detail, param, headers);

/** The engine's errors keep the CLI's exact wording (`--steps`), so a message reads the same on both fronts. */
export function problemOf(e: unknown): HttpProblem {
  if (e instanceof HttpProblem) return e;
  if (e instanceof InterpError) return problem(STATUS_OF_KIND[e.kind], e.worded(cliParam), e.param);
  const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return problem(500, message);
}

/** The problem+json body. */
export function problemBody(p: HttpProblem, instance: string) {
  return {
    type: 'about:blank',
    title: p.title,
    status: p.status,
    detail: p.message,
    instance,
    ...(p.param ? { param: p.param } : {}),
  };
}
