import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import { type Config, ConfigError, loadConfig } from './config';
import { createSql, type Sql } from './db/client';
import { newId } from './db/ids';
import { type PurchaseRow, toAdminPurchase } from './db/purchases';
import { AppError } from './domain/errors';
import { connectClient } from './temporal/client';
import {
  CreditPackIdKey,
  CustomerIdKey,
  OrganizationIdKey,
  PurchaseStatusKey,
} from './temporal/search-attributes';
import { type PurchaseInput, purchaseStatusQuery, purchaseWorkflow, purchaseWorkflowId } from './workflows';

/**
 * Starts or looks up a purchase: used by the portal's checkout and from the command line.
 *
 * A checkout is recorded first (the `purchases` row, keyed by the checkout's Idempotency-Key), then
 * its workflow is started under an id derived from the purchase id. A repeated checkout with the same
 * key and body finds the same row and the same workflow; with another body it is refused.
 */

export interface CheckoutRequest {
  organizationId: string;
  customerId: string;
  creditPackId: string;
  quantity: number;
  idempotencyKey: string;
}

/** The request's fingerprint, stored beside its idempotency key to catch a key reused for another body. */
export function checkoutRequestHash(request: Pick<CheckoutRequest, 'creditPackId' | 'quantity'>): string {
  return createHash('sha256')
    .update(JSON.stringify({ creditPackId: request.creditPackId, quantity: request.quantity }))
    .digest('hex');
}

/**
 * Records the purchase (status `pending`, the pack's credits and price snapshotted × quantity), or
 * returns the one this idempotency key already made. `created` tells which.
 */
export async function createPurchase(
  sql: Sql,
  request: CheckoutRequest,
  { maxQuantity }: { maxQuantity: number },
): Promise<{ purchase: PurchaseRow; created: boolean }> {
  const requestHash = checkoutRequestHash(request);
  const sameKey = async () => {
    const [row] = await sql<PurchaseRow[]>`
      select * from purchases
       where organization_id = ${request.organizationId} and customer_id = ${request.customerId}
         and idempotency_key = ${request.idempotencyKey}`;
    return row;
  };
  const reuse = (row: PurchaseRow & { request_hash?: string }) => {
    if (row.request_hash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different purchase request.',
      );
    }
    return { purchase: row, created: false };
  };

  // A known key is judged on its key first: the same body answers the purchase it made (even if the
  // limit has changed since), another body is refused as a reused key. Only a new row needs the bound.
  const existing = await sameKey();
  if (existing) return reuse(existing);
  if (!Number.isInteger(request.quantity) || request.quantity < 1 || request.quantity > maxQuantity) {
    throw new AppError('quantity_exceeds_limit', `Quantity must be a whole number from 1 to ${maxQuantity}.`);
  }

  const [pack] = await sql<{ credits: number; priceCents: number }[]>`
    select credits, price_cents as "priceCents" from credit_packs
     where organization_id = ${request.organizationId} and id = ${request.creditPackId} and archived_at is null`;
  if (!pack) throw new AppError('credit_pack_not_found', `No credit pack ${request.creditPackId}.`);

  const purchaseId = newId('purchase');
  // `on conflict do nothing`: of two identical checkouts racing, one inserts and the other reads it.
  const [inserted] = await sql<PurchaseRow[]>`
    insert into purchases (
      id, organization_id, customer_id, credit_pack_id, quantity, unit_credits, unit_price_cents,
      credits, price_cents, currency, status, idempotency_key, request_hash, workflow_id)
    values (
      ${purchaseId}, ${request.organizationId}, ${request.customerId}, ${request.creditPackId},
      ${request.quantity}, ${pack.credits}, ${pack.priceCents}, ${pack.credits * request.quantity},
      ${pack.priceCents * request.quantity}, 'usd', 'pending', ${request.idempotencyKey}, ${requestHash},
      ${purchaseWorkflowId(purchaseId)})
    on conflict (organization_id, customer_id, idempotency_key) do nothing
    returning *`;
  if (inserted) return { purchase: inserted, created: true };
  const winner = await sameKey();
  if (!winner) throw new Error('purchase insert conflicted but no row holds the idempotency key');
  return reuse(winner);
}

export interface PurchaseTimeouts {
  cardWaitTimeoutMs: number;
  authenticationWaitTimeoutMs: number;
  stripeRecheckIntervalMs: number;
}

export function purchaseTimeouts(config: Config): PurchaseTimeouts {
  return {
    cardWaitTimeoutMs: config.CARD_WAIT_TIMEOUT_MS,
    authenticationWaitTimeoutMs: config.AUTHENTICATION_WAIT_TIMEOUT_MS,
    stripeRecheckIntervalMs: config.STRIPE_RECHECK_INTERVAL_MS,
  };
}

/**
 * Starts the purchase's workflow, once. The id is derived from the purchase id; `USE_EXISTING` makes a
 * second start while it runs return the running one (`started` is true then too), and `REJECT_DUPLICATE`
 * refuses a second run after it closed (a purchase is never run twice): `started` false.
 */
export async function startPurchaseWorkflow(
  client: Client,
  purchase: Pick<PurchaseRow, 'id' | 'organization_id' | 'customer_id' | 'credit_pack_id' | 'quantity'>,
  { taskQueue, timeouts }: { taskQueue: string; timeouts: PurchaseTimeouts },
): Promise<{ workflowId: string; started: boolean }> {
  const workflowId = purchaseWorkflowId(purchase.id);
  const input: PurchaseInput = {
    purchaseId: purchase.id,
    organizationId: purchase.organization_id,
    customerId: purchase.customer_id,
    creditPackId: purchase.credit_pack_id,
    quantity: purchase.quantity,
    ...timeouts,
  };
  try {
    await client.workflow.start(purchaseWorkflow, {
      workflowId,
      taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // No execution timeout on purpose: it would kill a purchase mid-refund, without compensation.
      // Every wait inside the workflow is bounded instead (card and 3-D Secure waits, activity windows).
      typedSearchAttributes: [
        { key: OrganizationIdKey, value: purchase.organization_id },
        { key: CustomerIdKey, value: purchase.customer_id },
        { key: CreditPackIdKey, value: purchase.credit_pack_id },
        { key: PurchaseStatusKey, value: 'pending' },
      ],
      staticSummary: `Credit pack purchase ${purchase.id}: ${purchase.quantity} × ${purchase.credit_pack_id}`,
    });
    return { workflowId, started: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw error;
  }
}

/** Checkout in one call: record the purchase (or find it by its key) and make sure its workflow runs. */
export async function checkout(
  deps: { sql: Sql; client: Client; config: Config },
  request: CheckoutRequest,
): Promise<{ purchase: PurchaseRow; created: boolean }> {
  const result = await createPurchase(deps.sql, request, { maxQuantity: deps.config.MAX_PURCHASE_QUANTITY });
  // Also on a repeat: the first attempt may have recorded the row and died before starting the workflow.
  await startPurchaseWorkflow(deps.client, result.purchase, {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    timeouts: purchaseTimeouts(deps.config),
  });
  return result;
}

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
        },
      );
      console.log(JSON.stringify({ created, purchase: toAdminPurchase(purchase) }, null, 2));
      return 0;
    }
    if (command === 'show' && args[0]) {
      const [row] = await sql<PurchaseRow[]>`select * from purchases where id = ${args[0]}`;
      if (!row) {
        console.error(`no purchase ${args[0]}`);
        return 1;
      }
      const workflow = await client.workflow
        .getHandle(purchaseWorkflowId(row.id))
        .query(purchaseStatusQuery)
        .catch((error: Error) => ({ unavailable: error.message }));
      console.log(JSON.stringify({ purchase: toAdminPurchase(row), workflow }, null, 2));
      return 0;
    }
    if (command === 'reconcile') {
      const { startOrphanedPurchases } = await import('./temporal/reconcile');
      const result = await startOrphanedPurchases(
        { sql, client, config },
        { olderThanMs: config.RECONCILE_PENDING_AFTER_MS },
      );
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    if (command === 'diagnostics') {
      const { diagnosticsWorkflow } = await import('./workflows');
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
