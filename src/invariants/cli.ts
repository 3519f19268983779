import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { createSql } from '../db/client';
import { createStripe } from '../stripe/client';
import { checkInvariants, formatReport, purchaseDeadlineMs } from './index';

/**
 * `npm run invariants [-- --organization org_… --since 2026-11-25T00:00:00Z --no-stripe --json]`
 * Checks the money invariants against the configured Postgres and Stripe; exits 1 on any violation,
 * so it can gate a deploy or run from cron.
 */

const usage = `usage: npm run invariants -- [--organization <org_id>] [--since <ISO time>] [--no-stripe] [--json]
  --organization   only this organization's purchases and customers
  --since          only purchases and customers created at or after this time
  --no-stripe      check Postgres only (skip the PaymentIntent and refund checks)
  --json           print the report as JSON
exit status: 0 all hold, 1 a violation was found, 2 bad usage or configuration, 3 the check could not run`;

async function main(argv: string[]): Promise<number> {
  let values: {
    organization?: string;
    since?: string;
    'no-stripe'?: boolean;
    json?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        organization: { type: 'string' },
        since: { type: 'string' },
        'no-stripe': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since && Number.isNaN(since.getTime())) {
    console.error(`--since: "${values.since}" is not a date and time (e.g. 2026-11-25T00:00:00Z)\n${usage}`);
    return 2;
  }
  if (values.organization !== undefined && !/^org_[A-Za-z0-9]+$/.test(values.organization)) {
    console.error(`--organization: "${values.organization}" is not an organization id (org_…)\n${usage}`);
    return 2;
  }

  const config = loadConfig();
  const sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'credit-pack-invariants' });
  try {
    const report = await checkInvariants(
      { sql, stripe: values['no-stripe'] ? null : createStripe(config, { maxNetworkRetries: 3 }) },
      { organizationId: values.organization, since, purchaseDeadlineMs: purchaseDeadlineMs(config) },
    );
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error('the invariant check could not run:', error);
    process.exit(3);
  },
);
