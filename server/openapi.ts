import type { Operation } from '../commands/operation.js';
import { VERSION } from '../src/util/paths.js';
import { bodySchema } from '../src/api/fields.js';

const problemResponse = (description: string) => ({
  description,
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          param: { type: 'string' },
        },
      },
    },
  },
});

const ERRORS = {
  '400': problemResponse('a usage error: the message is the CLI’s'),
  '401': problemResponse('the bearer token is missing or wrong'),
  '403': problemResponse('a file-system path the server does not allow'),
  '404': problemResponse('an unknown model'),
  '413': problemResponse('the body is over --max-body'),
  '422': problemResponse('the text is over --max-tokens, or the work over --max-passes'),
  '429': problemResponse('the queue is full'),
  '500': problemResponse('a runtime failure'),
  '504': problemResponse('the request took longer than --timeout'),
};

/**
 * The 200 response: where an operation declares its documents, one schema per kind, told apart by the `schema`
 * field of a JSON answer (or of the JSON a page embeds in script#interp-data).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any operation
function success(op: Operation<any, any>) {
  const docs = op.documents ?? [];
  if (!docs.length) return { description: 'the result', content: { [op.contentType]: {} } };
  const description = `the result: ${docs.map((d) => `${d.schema} (${d.when})`).join('; ')}`;
  const kinds = docs.map((d) => ({
    type: 'object',
    title: d.schema,
    description: d.when,
    required: ['schema'],
    properties: { schema: { const: d.schema } },
  }));
  const schema =
    op.contentType === 'application/json'
      ? { oneOf: kinds }
      : {
          type: 'string',
          description: 'one self-contained HTML page; script#interp-data holds its JSON',
          'x-embedded-json': { oneOf: kinds },
        };
  return { description, content: { [op.contentType]: { schema } } };
}

/** OpenAPI 3.1 for the server, built from the same command definitions as the request schemas. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any operation
export function openApi(operations: Operation<any, any>[], limits: { maxTokens: number; token?: string }) {
  const paths: Record<string, object> = {};
  for (const op of operations) {
    const cmd = op.command();
    paths[`/v1/${op.name}`] = {
      post: {
        summary: cmd.summary(),
        description: `${cmd.description()} The response is byte-identical to \`interp ${op.name} --json\` (the HTML page for report).`,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: bodySchema(cmd, limits.maxTokens * 32) } },
        },
        responses: { '200': success(op), ...ERRORS },
      },
    };
  }
  const get = (summary: string, type = 'application/json') => ({
    get: { summary, responses: { '200': { description: summary, content: { [type]: {} } } } },
  });
  Object.assign(paths, {
    '/health': get('liveness; never needs the token'),
    '/v1/models': get('the embedded models and the models loaded now'),
    '/metrics': get('Prometheus metrics', 'text/plain'),
    '/openapi.json': get('this document'),
  });
  return {
    openapi: '3.1.0',
    info: { title: 'interp', version: VERSION, description: 'Explain transformer language models over HTTP.' },
    paths,
    ...(limits.token
      ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] }
      : {}),
  };
}
