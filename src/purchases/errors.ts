import { AppError } from '../domain/errors';

/** The workflow service cannot be reached: nothing was done, the caller may retry. */
export const workflowServiceUnavailable = (what: string) =>
  new AppError(
    'service_unavailable',
    `${what} is not possible right now (the workflow service is unreachable); try again.`,
  );

/** A logger with pino's (object, message) signature: the portal's request logger, or the process logger. */
export interface PurchaseLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}
