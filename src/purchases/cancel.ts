import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Sql } from '../db/client';
import { cancelUnclaimedPurchase } from '../db/purchase-status';
import { getCustomerPurchase, type PurchaseRow } from '../db/purchases';
import { AppError } from '../domain/errors';
import { isTerminalPurchaseStatus, type PurchaseStatus } from '../domain/purchase-states';
import { cancelPurchaseUpdate, type PurchaseState, purchaseWorkflowId } from '../workflows';
import { workflowServiceUnavailable } from './errors';
import type { PurchaseChanges } from './purchase-changes';
import { waitForPurchase } from './wait';

/** How long a cancel may take (the workflow undoes what is outstanding, then settles). */
export const CANCEL_DEADLINE_MS = 30_000;
/** How long, after the update answered, the row may take to show the settled status. */
const CANCEL_SETTLE_WAIT_MS = 3_000;

/**
 * Cancels a purchase that is still waiting (for a card or for 3-D Secure), by the `cancelPurchase`
 * update, and returns the settled row: canceled, or refunded if a charge slipped through. A pending
 * purchase with no workflow (recorded, never started) is canceled in the database. A purchase that is
 * being charged or is settled answers 409 `purchase_not_cancelable`.
 */
export async function cancelPurchase(
  deps: { sql: Sql; temporal: Client | null; purchaseChanges: PurchaseChanges },
  row: PurchaseRow,
  requestedBy: 'customer' | 'operator',
): Promise<PurchaseRow> {
  const notCancelable = (status: PurchaseStatus) =>
    new AppError('purchase_not_cancelable', `Purchase ${row.id} is ${status} and can no longer be canceled.`);
  if (isTerminalPurchaseStatus(row.status)) throw notCancelable(row.status);
  if (!deps.temporal) throw workflowServiceUnavailable('Canceling');
  const temporal = deps.temporal;
  const notCancelableNow = async () =>
    notCancelable(
      (await getCustomerPurchase(deps.sql, { organizationId: row.organization_id, purchaseId: row.id }))
        .status,
    );
  const runUpdate = async (): Promise<PurchaseState> => {
    try {
      return await temporal.withDeadline(Date.now() + CANCEL_DEADLINE_MS, () =>
        temporal.workflow
          .getHandle(purchaseWorkflowId(row.id))
          .executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy }] }),
      );
    } catch (error) {
      if (
        error instanceof WorkflowUpdateFailedError &&
        error.cause instanceof ApplicationFailure &&
        error.cause.type === 'PurchaseNotCancelable'
      ) {
        throw await notCancelableNow();
      }
      if (error instanceof WorkflowNotFoundError) throw error;
      throw workflowServiceUnavailable('Canceling');
    }
  };
  let state: PurchaseState;
  try {
    state = await runUpdate();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    // No workflow: recorded at checkout, never started. Cancel the row itself, unless a workflow
    // claimed it meanwhile; then that workflow is asked, once more.
    const message = requestedBy === 'customer' ? 'Canceled by the customer.' : 'Canceled by an operator.';
    const canceled = await cancelUnclaimedPurchase(deps.sql, row.id, message);
    if (canceled) return canceled;
    try {
      state = await runUpdate();
    } catch (retryError) {
      if (retryError instanceof WorkflowNotFoundError) throw await notCancelableNow();
      throw retryError;
    }
  }
  // The update answers once the workflow settled; its row is written by an activity just before or after.
  const settled = await waitForPurchase(
    deps,
    { organizationId: row.organization_id, purchaseId: row.id },
    CANCEL_SETTLE_WAIT_MS,
    (current) => current.status === state.status,
  );
  if (settled.status === state.status) return settled;
  return {
    ...settled,
    status: state.status,
    next_action: state.nextAction,
    failure_code: state.failure?.code ?? null,
    failure_message: state.failure?.message ?? null,
  };
}
