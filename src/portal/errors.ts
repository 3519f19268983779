import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constraintViolation, databaseUnavailable } from '../db/errors';
import { AppError, type ErrorCode, httpStatusFor } from '../domain/errors';

/** Every failure leaves in the envelope { success: false, error: { code, message } }. */
export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  status = httpStatusFor(code),
) {
  return reply.status(status).send({ success: false, error: { code, message } });
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function describeValidation(error: FastifyError): string {
  const part = (error as { validationContext?: string }).validationContext ?? 'request';
  const issues = (error.validation ?? []) as ValidationIssue[];
  // TypeBox reports an anyOf failure once per branch; keep the informative, distinct lines.
  const lines = new Set<string>();
  for (const issue of issues) {
    const extra = issue.params?.additionalProperties;
    const where = `${part}${issue.instancePath ?? ''}`;
    if (Array.isArray(extra)) lines.add(`${where} has unknown field(s): ${extra.join(', ')}`);
    else if (issue.message && issue.message !== 'schema is false') lines.add(`${where} ${issue.message}`);
    if (lines.size >= 5) break;
  }
  return lines.size > 0 ? `Invalid ${part}: ${[...lines].join('; ')}.` : `Invalid ${part}.`;
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

const messages: Partial<Record<ErrorCode, string>> = {
  unsupported_media_type: 'Unsupported Content-Type; send application/json.',
  payload_too_large: 'Request body too large.',
  invalid_json: 'The request body is not valid JSON.',
};

/** Retry-After of a 503 for a database that is away (a restart takes a few seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

const routeMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function installErrorHandling(app: FastifyInstance): void {
  // Closing (app.close()): a request still arriving on an open keep-alive connection is turned away
  // with 503 service_unavailable, in the envelope (Fastify's own return503OnClosing answer is not, so
  // the app turns that off).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (closing) return sendError(reply, 'service_unavailable', 'The server is shutting down; retry.');
    // HTTP/1.1 without Host is malformed (RFC 9112 §3.2). Node would answer it with a bare 400
    // (requireHostHeader); the app turns that off and answers here.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      reply.header('connection', 'close');
      return sendError(reply, 'validation_failed', 'An HTTP/1.1 request needs a Host header.', 400);
    }
  });
  // An Expect header other than 100-continue: Node answers a bare 417 unless someone listens.
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({
      success: false,
      error: { code: 'validation_failed', message: 'Only "Expect: 100-continue" is supported.' },
    });
    res.writeHead(417, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  });

  // No route for this method and path: 405 (with Allow) when the path has routes for other methods,
  // else 404.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = routeMethods.filter(
      (method) => method !== request.method && app.findRoute({ method, url: path }) !== null,
    );
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        reply,
        'method_not_allowed',
        `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}.`,
      );
    }
    return sendError(reply, 'not_found', `No route ${request.method} ${path}.`);
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) return sendError(reply, error.code, error.message, error.status);

    if (error.validation) return sendError(reply, 'validation_failed', describeValidation(error), 400);

    const mapped = error.code ? fastifyCodes[error.code] : undefined;
    if (mapped) {
      return sendError(
        reply,
        mapped,
        messages[mapped] ?? error.message,
        error.statusCode ?? httpStatusFor(mapped),
      );
    }
    if (error instanceof SyntaxError || (error.statusCode === 400 && /json/i.test(error.message))) {
      return sendError(reply, 'invalid_json', messages.invalid_json!, 400);
    }

    // A database constraint caught what validation did not: still the client's input, so a 4xx.
    const violation = constraintViolation(error);
    if (violation) {
      request.log.warn({ err: error }, 'constraint violation reached the HTTP layer');
      if (violation.code === '23505')
        return sendError(reply, 'validation_failed', 'Conflicts with an existing record.', 409);
      return sendError(reply, 'validation_failed', 'The request violates a data constraint.', 400);
    }
    const pgCode = (error as { code?: unknown }).code;
    if (typeof pgCode === 'string' && /^22[0-9A-Z]{3}$/.test(pgCode)) {
      return sendError(reply, 'validation_failed', 'A value is out of range or malformed.', 400);
    }

    // Postgres restarting or out of connections: the client should retry, not report a bug (found by the soak,
    // which restarts Postgres under load: these were 500s).
    if (databaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendError(reply, 'service_unavailable', 'The database is unavailable for a moment; retry.', 503);
    }

    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code: ErrorCode =
        status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : 'validation_failed';
      return sendError(reply, code, error.message, status);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 'internal_error', 'Internal error.', 500);
  });
}

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any route, hook or error handler
 * runs. Fastify 5 passes three errors here: FST_ERR_BAD_URL (a path parameter that is not valid
 * percent-encoding), FST_ERR_MAX_PARAM_LENGTH (a path parameter over `maxParamLength`; Fastify's own
 * answer is a 414) and FST_ERR_ASYNC_CONSTRAINT (an asynchronous route constraint failed; none are used
 * here). The first two are the client's input: 400 validation_failed.
 */
export function routerErrorHandler(limits: { maxParamLength: number }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    switch (error.code) {
      case 'FST_ERR_BAD_URL':
        void sendError(reply, 'validation_failed', 'The URL path is not valid percent-encoding.', 400);
        return;
      case 'FST_ERR_MAX_PARAM_LENGTH':
        void sendError(
          reply,
          'validation_failed',
          `A path parameter is too long (at most ${limits.maxParamLength} characters).`,
          400,
        );
        return;
      default: {
        // FST_ERR_ASYNC_CONSTRAINT, or an error a later Fastify adds: by its status, like setErrorHandler.
        const status = error.statusCode ?? 500;
        if (status >= 400 && status < 500) {
          void sendError(reply, 'validation_failed', error.message, status);
          return;
        }
        request.log.error({ err: error }, 'router error');
        void sendError(reply, 'internal_error', 'Internal error.', 500);
      }
    }
  };
}

/** The answer to each of Node's HTTP parser and timeout errors (Node's own statuses; others: 400). */
function clientErrorAnswer(nodeCode: string): { status: number; code: ErrorCode; message: string } {
  switch (nodeCode) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'validation_failed', message: 'The request headers are too large.' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'payload_too_large', message: 'The chunk extensions are too large.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'validation_failed', message: 'The request was not received in time.' };
    default:
      return { status: 400, code: 'validation_failed', message: 'The request is not valid HTTP.' };
  }
}

/** The raw HTTP/1.1 answer written to the socket for a client error: complete, and the connection closes. */
export function clientErrorResponse(nodeCode: string): string {
  const { status, code, message } = clientErrorAnswer(nodeCode);
  const body = JSON.stringify({ success: false, error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n' +
    `\r\n${body}`
  );
}

/**
 * Fastify's `clientErrorHandler` option (the HTTP server's 'clientError' event): Node's parser refused
 * the bytes (malformed request line or header, header block over --max-http-header-size) or the request
 * timed out, so no request object exists and no hook runs. Answered in the envelope, as Node would
 * answer otherwise (same statuses), then the connection is closed.
 */
export function clientErrorHandler(this: unknown, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer (Node's own handler ignores it too).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  (this as Partial<FastifyInstance> | undefined)?.log?.debug({ err: error }, 'client error');
  // Never write into a response already under way on this connection (keep-alive, pipelining).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(clientErrorResponse(error.code ?? ''));
  socket.destroy(error);
}
