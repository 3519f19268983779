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
