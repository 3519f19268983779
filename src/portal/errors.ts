import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constraintViolation } from '../db/errors';
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

const routeMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function installErrorHandling(app: FastifyInstance): void {
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
