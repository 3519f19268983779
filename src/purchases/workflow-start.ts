import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from '../config';
import type { PurchaseRow } from '../db/purchases';
import { startWorkflowOnce } from '../temporal/start-once';
import { type PurchaseInput, purchaseWorkflow, purchaseWorkflowId } from '../workflows';
import {
  CreditPackIdKey,
  CustomerIdKey,
  OrganizationIdKey,
  PurchaseStatusKey,
  PurchaseTriggerKey,
} from '../workflows/purchase/search-attributes';

export interface PurchaseTimeouts {
  cardWaitTimeoutMs: number;
  authenticationWaitTimeoutMs: number;
  stripeRecheckIntervalMs: number;
  stripeRecheckMaxIntervalMs: number;
}

/** The waits a purchase is started with, from the configuration at start (they ride in its input). */
export function purchaseTimeouts(config: Config): PurchaseTimeouts {
  return {
    cardWaitTimeoutMs: config.CARD_WAIT_TIMEOUT_MS,
    authenticationWaitTimeoutMs: config.AUTHENTICATION_WAIT_TIMEOUT_MS,
    stripeRecheckIntervalMs: config.STRIPE_RECHECK_INTERVAL_MS,
    stripeRecheckMaxIntervalMs: config.STRIPE_RECHECK_MAX_INTERVAL_MS,
  };
}

/**
 * Starts the purchase's workflow, once (src/temporal/start-once.ts): the id is derived from the
 * purchase id; a second start while it runs finds the running one (`started` true then too), and a
 * purchase is never run twice after it closed (`started` false).
 */
export async function startPurchaseWorkflow(
  client: Client,
  purchase: Pick<
    PurchaseRow,
    'id' | 'organization_id' | 'customer_id' | 'credit_pack_id' | 'quantity' | 'trigger'
  >,
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
    trigger: purchase.trigger,
  };
  const { started } = await startWorkflowOnce(client, purchaseWorkflow, {
    workflowId,
    taskQueue,
    args: [input],
    // No execution timeout on purpose: it would kill a purchase mid-refund, without compensation.
    // Every wait inside the workflow is bounded instead (card and 3-D Secure waits, activity windows).
    typedSearchAttributes: [
      { key: OrganizationIdKey, value: purchase.organization_id },
      { key: CustomerIdKey, value: purchase.customer_id },
      { key: CreditPackIdKey, value: purchase.credit_pack_id },
      { key: PurchaseStatusKey, value: 'pending' },
      { key: PurchaseTriggerKey, value: purchase.trigger },
    ],
    staticSummary: `Credit pack purchase ${purchase.id}: ${purchase.quantity} × ${purchase.credit_pack_id}`,
  });
  return { workflowId, started };
}

/** Whether any run (open or closed, within retention) of the purchase's workflow exists. */
export function purchaseWorkflowExists(client: Client, purchaseId: string): Promise<boolean> {
  return workflowExists(client, purchaseWorkflowId(purchaseId));
}

/** Whether any run (open or closed, within retention) of this workflow id exists. */
export function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  return client.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      },
    );
}
