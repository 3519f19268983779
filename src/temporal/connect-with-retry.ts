import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import type { AppLogger } from '../logger';
import { explainConnectionError, temporalConnectionOptions } from './connection';

/**
 * A process's first connection to Temporal, retried with backoff while Temporal is not there yet (a
 * worker started while Temporal restarts, or before it on a deploy) instead of exiting at once, bounded
 * by a timeout after which the last error is thrown. Each failed attempt is logged in words, with the
 * time left. A TLS refusal (a wrong certificate) is not retried: waiting does not fix it.
 */

/** How long a worker waits for Temporal at its start before it gives up and exits. */
export const WORKER_CONNECT_TIMEOUT_MS = 60_000;

/** Thrown by a `connect` to stop the retries at once with `error` (e.g. a refused client certificate). */
export class PermanentConnectError extends Error {
  constructor(readonly error: Error) {
    super(error.message, { cause: error });
  }
}

export interface ConnectRetryOptions {
  /** Give up (throw the last error) once this long has passed since the first attempt. 0: one attempt. */
  timeoutMs: number;
  /** What is being reached, for the messages: e.g. `Temporal at 127.0.0.1:7233`. */
  what: string;
  /** Where a failed attempt is said; `waitMs` is the pause before the next one. */
  onRetry: (message: string, details: { attempt: number; waitMs: number; error: string }) => void;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** For tests: the clock and the pause. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export async function connectWithRetry<T>(
  connect: () => Promise<T>,
  options: ConnectRetryOptions,
): Promise<{ value: T; attempts: number }> {
  const now = options.now ?? Date.now;
  const pause = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const giveUpAt = now() + options.timeoutMs;
  let delay = options.initialDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await connect(), attempts: attempt };
    } catch (error) {
      if (error instanceof PermanentConnectError) throw error.error;
      const left = giveUpAt - now();
      if (left <= 0) {
        if (attempt === 1) throw error;
        throw new Error(
          `${options.what} was not reachable within ${Math.round(options.timeoutMs / 1000)} s (${attempt} attempts): ${firstLine(error)}`,
          { cause: error },
        );
      }
      const waitMs = Math.min(delay, left);
      const reason = firstLine(error);
      options.onRetry(
        `${options.what} is not reachable yet (attempt ${attempt}: ${reason}); retrying in ${(waitMs / 1000).toFixed(1)} s, giving up in ${Math.ceil(left / 1000)} s`,
        { attempt, waitMs, error: reason },
      );
      await pause(waitMs);
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}

/**
 * The worker's two connections to Temporal (the native one its workers poll on, and a client's), each
 * retried while Temporal is away for up to `timeoutMs` in all, logged as `waiting for Temporal`.
 */
export async function connectWorkerToTemporal(
  config: Config,
  logger: AppLogger,
  timeoutMs = WORKER_CONNECT_TIMEOUT_MS,
): Promise<{ connection: NativeConnection; client: Client }> {
  const started = Date.now();
  const what = `Temporal at ${config.temporalAddress}`;
  const onRetry = (message: string, details: { attempt: number; waitMs: number; error: string }) =>
    logger.warn({ temporalAddress: config.temporalAddress, ...details }, `waiting for Temporal: ${message}`);
  /** A TLS refusal, said in words by explainConnectionError, stops the retries; anything else is retried. */
  const explained = async (error: unknown): Promise<never> => {
    const explanation = await explainConnectionError(config, error);
    throw explanation === error ? error : new PermanentConnectError(explanation);
  };
  const native = await connectWithRetry(
    () => NativeConnection.connect(temporalConnectionOptions(config)).catch(explained),
    { timeoutMs, what, onRetry },
  );
  try {
    const client = await connectWithRetry(
      () =>
        Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 10_000 }).catch(explained),
      { timeoutMs: Math.max(0, timeoutMs - (Date.now() - started)), what, onRetry },
    );
    const attempts = native.attempts + client.attempts - 2;
    if (attempts > 0) {
      logger.info(
        { temporalAddress: config.temporalAddress, waitedMs: Date.now() - started },
        `connected to Temporal after ${attempts} failed attempt(s)`,
      );
    }
    return {
      connection: native.value,
      client: new Client({ connection: client.value, namespace: config.TEMPORAL_NAMESPACE }),
    };
  } catch (error) {
    await native.value.close();
    throw error;
  }
}
