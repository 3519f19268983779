import { DefaultLogger, Runtime } from '@temporalio/worker';

/**
 * Imported first by the breakage test: it replays histories that are *meant* to fail, and the SDK
 * core logs each failed workflow task at WARN. Errors only here, so the CI log shows no false alarms.
 * (test/support/worker.ts would otherwise install the WARN-level runtime; it tolerates this one.)
 */
try {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } },
  });
} catch {
  // a runtime is already installed in this process
}
