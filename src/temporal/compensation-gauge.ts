import { Runtime } from '@temporalio/worker';
import type { Sql } from '../db/client';
import { countStuckCompensations } from '../db/purchase-status';
import type { AppLogger } from '../logger';

/** The gauge operators alert on: purchases whose undo (refund, cancel) keeps failing right now. */
export const COMPENSATIONS_STUCK_GAUGE = 'credit_pack_compensations_stuck';

/**
 * Sets the gauge from the database now and every `intervalMs` (the worker's Prometheus endpoint
 * exports it beside the SDK's metrics). Counting the rows, not the activity failures of this process,
 * keeps it right across several workers and restarts. Returns a function that stops it.
 */
export function watchStuckCompensations(sql: Sql, logger: AppLogger, intervalMs: number): () => void {
  const gauge = Runtime.instance().metricMeter.createGauge(
    COMPENSATIONS_STUCK_GAUGE,
    'int',
    'purchases',
    'purchases whose compensation (refund, cancel) keeps failing; failure code compensation_stuck',
  );
  const update = () =>
    countStuckCompensations(sql).then(
      (stuck) => gauge.set(stuck),
      (error: unknown) => logger.warn({ err: error }, 'could not count stuck compensations'),
    );
  void update();
  const timer = setInterval(() => void update(), intervalMs);
  return () => clearInterval(timer);
}
