import postgres from 'postgres';

/** The Postgres error of a violated constraint, when `error` is one (SQLSTATE class 23). */
export function constraintViolation(error: unknown): { code: string; constraint: string } | null {
  if (
    error instanceof postgres.PostgresError &&
    typeof error.code === 'string' &&
    error.code.startsWith('23')
  ) {
    return { code: error.code, constraint: error.constraint_name ?? '' };
  }
  return null;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const v = constraintViolation(error);
  return v !== null && v.code === '23505' && (constraint === undefined || v.constraint === constraint);
}

/** postgres.js's own codes for a connection it lost or could not make, and Node's socket errors. */
const connectionErrorCodes = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * Whether `error` says the database is away for now (restarting, refusing connections, out of connection
 * slots) rather than that the request was wrong: SQLSTATE class 08 (connection exception), 57P01–57P03
 * (shutting down, starting up) and 53300 (too many connections), or a lost connection. A caller may retry
 * such a request as it was; nothing it asked for can be assumed done or undone.
 */
export function databaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (connectionErrorCodes.has(code)) return true;
  if (!(error instanceof postgres.PostgresError)) return false;
  return code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300';
}
