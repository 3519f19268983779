import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config';
import { createSql } from './db/client';
import { toAdminPurchase } from './db/purchases';
import { AppError } from './domain/errors';
import { checkout, findPurchaseWithWorkflow, startOrphanedPurchases } from './purchases';
import { connectClient } from './temporal/client';
import { diagnosticsWorkflow } from './workflows';

/**
 * The operators' command line (`npm run purchase -- <command>`): parses arguments and calls the
 * purchase module (src/purchases), which the portal and the worker use too. Nothing else lives here.
 */

// ── Command line ─────────────────────────────────────────────────────────────────────────────────────

const usage = `usage: npm run purchase -- <command>   (npm run starter -- … is the same command)
  buy <organizationId> <customerId> <creditPackId> [quantity] [idempotencyKey]
                              record a purchase and start its workflow; prints the purchase
  show <purchaseId>           the purchase row and the workflow's own status
  reconcile                   start the workflows of purchases recorded but never started
  diagnostics                 Temporal → worker → Postgres round trip`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const config = loadConfig();
  const sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'credit-pack-starter' });
  const client = await connectClient(config);
  try {
    if (command === 'buy' && args.length >= 3) {
      const [organizationId, customerId, creditPackId, quantity = '1', key] = args as [
        string,
        string,
        string,
        string | undefined,
        string | undefined,
      ];
      const { purchase, created } = await checkout(
        { sql, client, config },
        {
          organizationId,
          customerId,
          creditPackId,
          quantity: Number(quantity),
          idempotencyKey: key ?? `cli-${Date.now()}`,
          trigger: 'admin',
        },
      );
      console.log(JSON.stringify({ created, purchase: toAdminPurchase(purchase) }, null, 2));
      return 0;
    }
    if (command === 'show' && args[0]) {
      const found = await findPurchaseWithWorkflow({ sql, client }, args[0]);
      if (!found) {
        console.error(`no purchase ${args[0]}`);
        return 1;
      }
      console.log(
        JSON.stringify({ purchase: toAdminPurchase(found.purchase), workflow: found.workflow }, null, 2),
      );
      return 0;
    }
    if (command === 'reconcile') {
      const result = await startOrphanedPurchases(
        { sql, client, config },
        { olderThanMs: config.RECONCILE_PENDING_AFTER_MS },
      );
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    if (command === 'diagnostics') {
      const result = await client.workflow.execute(diagnosticsWorkflow, {
        workflowId: `diagnostics-${Date.now()}`,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        workflowExecutionTimeout: '1 minute',
      });
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    console.error(usage);
    return 2;
  } finally {
    await client.connection.close();
    await sql.end({ timeout: 5 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof ConfigError || error instanceof AppError ? error.message : error);
      process.exit(1);
    },
  );
}
