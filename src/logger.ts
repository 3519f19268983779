import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { pino } from 'pino';

export type AppLogger = pino.Logger;

/** Structured JSON lines on stdout, one logger per process, `service` telling processes apart. */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): AppLogger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}

const pinoLevel: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

const OMITTED_FIELDS = new Set(['taskToken']);

/**
 * Adapts pino to the Temporal SDK's Logger, for `Runtime.install({ logger })`. The SDK passes the
 * workflow/activity context (workflowId, runId, activityId, activityType, taskQueue…) as metadata,
 * which becomes fields of the JSON line.
 */
export function temporalLogger(logger: AppLogger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    // Core (Rust) log timestamps arrive as bigint nanoseconds, which JSON cannot carry. An activity's
    // task token is a credential to complete it from outside the worker: never logged.
    const fields = meta
      ? Object.fromEntries(
          Object.entries(meta)
            .filter(([k]) => !OMITTED_FIELDS.has(k))
            .map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v]),
        )
      : {};
    logger[pinoLevel[level]](fields, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
