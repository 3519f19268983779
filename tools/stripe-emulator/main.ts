/**
 * CLI: serves the Stripe emulator on STRIPE_EMULATOR_PORT (BIND_HOST), delivering webhooks to
 * STRIPE_EMULATOR_WEBHOOK_URLS (comma-separated) signed with STRIPE_WEBHOOK_SECRET.
 * Ready when `GET /_emulator/health` answers 200.
 */
import { loadConfig } from '../../src/config';
import { startStripeEmulator } from './emulator';

const config = loadConfig();
// Tests always start empty, whatever the environment says.
const stateFile = config.STACK_PROFILE === 'test' ? undefined : config.STRIPE_EMULATOR_STATE_FILE;
const urls = config.stripeEmulatorWebhookUrls;
const handle = await startStripeEmulator({
  host: config.BIND_HOST,
  port: config.STRIPE_EMULATOR_PORT,
  webhookEndpoints: urls.map((url) => ({ url, secret: config.STRIPE_WEBHOOK_SECRET })),
  webhookRetryBaseMs: config.STRIPE_EMULATOR_WEBHOOK_RETRY_BASE_MS,
  log: config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? (line) => console.log(line) : undefined,
  stateFile,
});
console.log(
  `stripe emulator listening on ${handle.url}; webhooks to ${urls.length > 0 ? urls.join(', ') : '(none)'}; ` +
    `state ${stateFile ? `kept in ${stateFile}` : 'in memory'}`,
);

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
