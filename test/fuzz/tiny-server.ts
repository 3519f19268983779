import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * A deliberately broken API of three operations, to prove the fuzz fails when it should: one answers
 * in the envelope, one with a 5xx on some inputs, one outside the envelope.
 */
export async function tinyServer(broken: {
  serverError: boolean;
  bareAnswer: boolean;
}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'tiny', version: '1' } } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  const q = {
    type: 'object',
    properties: { n: { type: 'integer', minimum: 0, maximum: 100 } },
    required: ['n'],
    additionalProperties: false,
  } as const;
  const envelopeError = (code: string) => ({ success: false, error: { code, message: code } });
  app.setErrorHandler((error: { statusCode?: number }, _request, reply) => {
    reply
      .status(error.statusCode && error.statusCode < 500 ? error.statusCode : 500)
      .send(envelopeError('x'));
  });
  app.get('/fine', { schema: { querystring: q } }, async (request) => ({
    success: true,
    data: { n: (request.query as { n: number }).n },
  }));
  app.get('/crashes', { schema: { querystring: q } }, async (request, reply) => {
    if (broken.serverError && (request.query as { n: number }).n % 2 === 1) {
      return reply.status(500).send(envelopeError('internal_error'));
    }
    return { success: true, data: {} };
  });
  app.get('/bare', { schema: { querystring: q } }, async () =>
    broken.bareAnswer ? { hello: 'world' } : { success: true, data: { hello: 'world' } },
  );
  return app;
}
