import { NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from './activities';
import { ConfigError, loadConfig } from './config';
import { createSql } from './db/client';
import { createLogger, temporalLogger } from './logger';
import { createStripe } from './stripe/client';
import { createWorker } from './temporal/create-worker';

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

  const sql = createSql(config.databaseUrl, { applicationName: 'credit-pack-worker' });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await createWorker({
      config,
      connection,
      activities: createActivities({ config, sql, stripe: createStripe(config) }),
    });
    logger.info(
      {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        namespace: config.TEMPORAL_NAMESPACE,
        temporalAddress: config.temporalAddress,
        metricsUrl: config.metricsUrl,
      },
      'worker started',
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await sql.end({ timeout: 5 });
  }
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});
