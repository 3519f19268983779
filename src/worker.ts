import { Runtime } from '@temporalio/worker';
import { createActivities } from './activities';
import { type Config, ConfigError, loadConfig } from './config';
import { createSql, type Sql } from './db/client';
import { type AppLogger, createLogger, temporalLogger } from './logger';
import { purchaseStarter, startOrphanedPurchases, startOrphanedRefunds } from './purchases';
import { runEventDispatcher } from './purchases/event-deliveries';
import { createStripe } from './stripe/client';
import { connectClient } from './temporal/client';
import { watchStuckCompensations } from './temporal/compensation-gauge';
import { connectWorkerToTemporal } from './temporal/connect-with-retry';
import { createWorker } from './temporal/create-worker';
import { bundleWorkflows } from './temporal/workflow-bundle';
import { workflowCacheSizesFor } from './worker-cache';
import { missingWorkerNodeFlags, WORKER_NODE_FLAGS } from './worker-node-flags';

/** How often the credit_pack_compensations_stuck gauge is read from the database. */
const STUCK_COMPENSATIONS_GAUGE_INTERVAL_MS = 15_000;

/**
 * Runs the purchase worker until SIGINT/SIGTERM. The SDK's Runtime owns those signals: it stops
 * polling, lets in-flight tasks finish within WORKER_SHUTDOWN_GRACE_MS, then `run()` resolves.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.LOG_LEVEL);
  Runtime.install({
    logger: temporalLogger(logger),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: {
      logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } },
      ...(config.METRICS_PORT === 0
        ? {}
        : { metrics: { prometheus: { bindAddress: `${config.BIND_HOST}:${config.METRICS_PORT}` } } }),
    },
  });

  const missingFlags = missingWorkerNodeFlags();
  if (missingFlags.length > 0) {
    logger.warn(
      { missing: missingFlags },
      `worker started without its Node flags: with many purchases parked, its memory can grow past what the workflow cache is sized for; start it with \`npm run worker\` or \`node ${WORKER_NODE_FLAGS.join(' ')} …\` (src/worker-node-flags.ts)`,
    );
  }

  const sql = createSql(config.databaseUrl, { applicationName: 'credit-pack-worker' });
  // Temporal may be away as the worker starts (restarting, or not up yet): both connections are retried
  // with backoff for up to 60 s (WORKER_CONNECT_TIMEOUT_MS), each attempt logged (connect-with-retry.ts).
  // The client is the one the auto top-up activity starts an owed top-up with (start-once, as the sweep does).
  const { connection, client } = await connectWorkerToTemporal(config, logger);
  try {
    const activities = createActivities({
      config,
      sql,
      stripe: createStripe(config),
      startPurchase: purchaseStarter(client, config),
    });
    // The sticky caches bound the worker's memory: logged with where their size comes from.
    const cache = workflowCacheSizesFor(config);
    logger.info(
      { purchases: cache.purchases, deliveries: cache.deliveries, reason: cache.reason },
      'workflow cache sized',
    );
    // One bundle for both workers (each bundling its own ran webpack twice at every start).
    // Its modules are shared by every workflow in the thread (src/temporal/workflow-bundle.ts).
    const workflowBundle = await bundleWorkflows({ logger: temporalLogger(logger) });
    const worker = await createWorker({
      config,
      connection,
      activities,
      workflowBundle,
      maxCachedWorkflows: cache.purchases,
    });
    // Event deliveries on their own task queue and slots: endpoints that stall never hold up purchases.
    const deliveryWorker = await createWorker({
      config: { ...config, WORKER_MAX_CONCURRENT_ACTIVITIES: config.EVENT_DELIVERY_MAX_CONCURRENT },
      connection,
      activities,
      workflowBundle,
      taskQueue: config.EVENT_DELIVERY_TASK_QUEUE,
      maxCachedWorkflows: cache.deliveries,
    });
    logger.info(
      {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        deliveryTaskQueue: config.EVENT_DELIVERY_TASK_QUEUE,
        namespace: config.TEMPORAL_NAMESPACE,
        temporalAddress: config.temporalAddress,
        metricsUrl: config.metricsUrl,
        maxCachedWorkflows: { purchases: cache.purchases, deliveries: cache.deliveries },
      },
      'worker started',
    );
    const stopSweeping = await sweepOrphanedPurchases(config, sql, logger);
    const stopGauge = watchStuckCompensations(sql, logger, STUCK_COMPENSATIONS_GAUGE_INTERVAL_MS);
    const stopDispatching = await dispatchEventDeliveries(config, sql, logger);
    try {
      await Promise.all([worker.run(), deliveryWorker.run()]);
    } finally {
      stopGauge();
      await stopDispatching();
      await stopSweeping();
    }
    logger.info('worker stopped');
  } finally {
    await client.connection.close();
    await connection.close();
    await sql.end({ timeout: 5 });
  }
}

/**
 * Every RECONCILE_INTERVAL_MS, starts the workflows of purchases recorded at checkout, and of refunds
 * recorded by the API, that were never started (src/purchases/sweep.ts, src/purchases/refunds.ts). Returns a function that stops the loop and closes its client.
 */
async function sweepOrphanedPurchases(
  config: Config,
  sql: Sql,
  logger: AppLogger,
): Promise<() => Promise<void>> {
  if (config.RECONCILE_INTERVAL_MS === 0) return async () => {};
  const client = await connectClient(config);
  let running: Promise<void> = Promise.resolve();
  const sweep = async () => {
    try {
      const { checked, started, signaled } = await startOrphanedPurchases(
        { sql, client, config },
        { olderThanMs: config.RECONCILE_PENDING_AFTER_MS },
      );
      if (started.length > 0) logger.warn({ checked, started }, 'started workflows of orphaned purchases');
      if (signaled.length > 0) {
        logger.warn({ customers: signaled }, 'signaled auto top-up workflows whose change was not mirrored');
      }
      const refunds = await startOrphanedRefunds(
        { sql, client, config },
        { olderThanMs: config.RECONCILE_PENDING_AFTER_MS },
      );
      if (refunds.started.length > 0) {
        logger.warn(
          { checked: refunds.checked, started: refunds.started },
          'started workflows of orphaned refunds',
        );
      }
    } catch (error) {
      logger.error({ err: error }, 'orphaned-purchase sweep failed; will retry');
    }
  };
  const timer = setInterval(() => {
    running = running.then(sweep);
  }, config.RECONCILE_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    await running;
    await client.connection.close();
  };
}

/**
 * Starts the workflows of recorded event deliveries (src/purchases/event-deliveries.ts): woken by
 * Postgres NOTIFY, and every EVENT_DISPATCH_INTERVAL_MS. Returns a function that stops it.
 */
async function dispatchEventDeliveries(
  config: Config,
  sql: Sql,
  logger: AppLogger,
): Promise<() => Promise<void>> {
  if (config.EVENT_DISPATCH_INTERVAL_MS === 0) return async () => {};
  const client = await connectClient(config);
  const stop = await runEventDispatcher(
    { sql, client, config },
    { intervalMs: config.EVENT_DISPATCH_INTERVAL_MS, log: logger },
  );
  return async () => {
    await stop();
    await client.connection.close();
  };
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});
