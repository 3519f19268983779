import { setTimeout as sleep } from 'node:timers/promises';
import { type FastifyPluginAsyncTypebox, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Type } from 'typebox';
import type { Sql } from '../../db/client';
import { decideEligibility, loadPurchaseFacts } from '../../db/eligibility-queries';
import { getCustomerPurchase, type PurchaseRow, toPurchase } from '../../db/purchases';
import { AppError } from '../../domain/errors';
import { isTerminalPurchaseStatus, type PurchaseStatus } from '../../domain/purchase-states';
import { checkout, checkoutRequestHash } from '../../starter';
import { cancelPurchaseUpdate, type PurchaseState, purchaseWorkflowId } from '../../workflows';
import { envelope, type RouteDeps, sessionOf } from '../context';
import * as S from '../schemas';

const portalSecurity = [{ portalSession: [] }];

/** Statuses in which the purchase is busy on its own (nothing to show the customer yet). */
const busyStatuses: readonly PurchaseStatus[] = ['pending', 'charging', 'crediting'];
/** How long a cancel may take (the workflow undoes what is outstanding, then settles). */
const CANCEL_DEADLINE_MS = 30_000;
const POLL_MS = 50;
/** How long checkout waits for the workflow service to start the purchase (ms; a healthy start takes a few). */
const START_DEADLINE_MS = 5_000;

/** The largest MAX_PURCHASE_QUANTITY a server may be configured with (src/config.ts). */
const QUANTITY_CEILING = 1_000;

/**
 * The checkout body, documented with this server's quantity limit (`maxQuantity`, MAX_PURCHASE_QUANTITY).
 * Requests are validated against the same schema with `QUANTITY_CEILING` instead: a quantity above the
 * configured limit then reaches the handler, which judges a known Idempotency-Key first (its purchase, or
 * 409) and otherwise answers 422 `quantity_exceeds_limit`.
 */
export function checkoutBody(maxQuantity: number) {
  return Type.Object(
    {
      creditPackId: S.Id('cpk'),
      quantity: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: maxQuantity,
          default: 1,
          description: `how many packs, 1 to ${maxQuantity} on this server (MAX_PURCHASE_QUANTITY); charged once, credited once. Above the limit: 422 quantity_exceeds_limit.`,
        }),
      ),
    },
    { additionalProperties: false },
  );
}

export const CheckoutHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'required: the same key and body return the same purchase; the same key with another body is refused (409)',
    }),
  ),
});

/**
 * Reads the purchase for an answer: waits, bounded by `waitMs`, while it is busy on its own (pending,
 * charging, crediting), so the answer usually carries the next action (add a card, authenticate) or
 * the outcome. Clients poll GET /v1/portal/purchases/{id} from there.
 */
async function purchaseForAnswer(
  sql: Sql,
  ids: { organizationId: string; customerId?: string; purchaseId: string },
  waitMs: number,
  until: (row: PurchaseRow) => boolean = (row) => !busyStatuses.includes(row.status),
): Promise<PurchaseRow> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await getCustomerPurchase(sql, ids);
    if (until(row) || Date.now() >= deadline) return row;
    await sleep(POLL_MS);
  }
}

/**
 * The purchase this checkout recorded, if it was recorded: the row of the customer's idempotency key,
 * when it was made for this same body (another body's row is not this checkout's).
 */
async function recordedCheckout(
  sql: Sql,
  request: {
    organizationId: string;
    customerId: string;
    idempotencyKey: string;
    creditPackId: string;
    quantity: number;
  },
): Promise<PurchaseRow | null> {
  const [row] = await sql<(PurchaseRow & { request_hash: string })[]>`
    select * from purchases
     where organization_id = ${request.organizationId} and customer_id = ${request.customerId}
       and idempotency_key = ${request.idempotencyKey}`;
  return row && row.request_hash === checkoutRequestHash(request) ? row : null;
}

const unavailable = (what: string) =>
  new AppError(
    'service_unavailable',
    `${what} is not possible right now (the workflow service is unreachable); try again.`,
  );

/**
 * Cancels, in the database, a pending purchase that no workflow has claimed (recorded at checkout,
 * its workflow never started): atomically, so a workflow started meanwhile (the orphan sweep, a
 * retried checkout) either claimed it first (no row matches: null) or finds it canceled and touches
 * nothing. Returns the canceled row.
 */
async function cancelUnclaimedPurchase(
  sql: Sql,
  purchaseId: string,
  requestedBy: 'customer' | 'operator',
): Promise<PurchaseRow | null> {
  const message = requestedBy === 'customer' ? 'Canceled by the customer.' : 'Canceled by an operator.';
  const [row] = await sql<PurchaseRow[]>`
    update purchases
       set status = 'canceled', failure_code = 'canceled', failure_message = ${message}, next_action = null
     where id = ${purchaseId} and status = 'pending' and workflow_run_id is null
    returning *`;
  return row ?? null;
}

/**
 * Cancels a purchase that is still waiting (for a card or for 3-D Secure), by the `cancelPurchase`
 * update, and returns the settled row: canceled, or refunded if a charge slipped through. A pending
 * purchase with no workflow (recorded, never started) is canceled in the database. A purchase that is
 * being charged or is settled answers 409 `purchase_not_cancelable`.
 */
export async function cancelPurchase(
  deps: { sql: Sql; temporal: Client | null },
  row: PurchaseRow,
  requestedBy: 'customer' | 'operator',
): Promise<PurchaseRow> {
  const notCancelable = (status: PurchaseStatus) =>
    new AppError('purchase_not_cancelable', `Purchase ${row.id} is ${status} and can no longer be canceled.`);
  if (isTerminalPurchaseStatus(row.status)) throw notCancelable(row.status);
  if (!deps.temporal) throw unavailable('Canceling');
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
      throw unavailable('Canceling');
    }
  };
  let state: PurchaseState;
  try {
    state = await runUpdate();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    // No workflow: recorded at checkout, never started. Cancel the row itself, unless a workflow
    // claimed it meanwhile; then that workflow is asked, once more.
    const canceled = await cancelUnclaimedPurchase(deps.sql, row.id, requestedBy);
    if (canceled) return canceled;
    try {
      state = await runUpdate();
    } catch (retryError) {
      if (retryError instanceof WorkflowNotFoundError) throw await notCancelableNow();
      throw retryError;
    }
  }
  // The update answers once the workflow settled; its row is written by an activity just before or after.
  const settled = await purchaseForAnswer(
    deps.sql,
    { organizationId: row.organization_id, purchaseId: row.id },
    3_000,
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

/** Checkout and cancel on the portal session (registered inside the portal plugin: its auth hook applies). */
export const checkoutRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, sql, temporal, checkoutWaitMs },
) => {
  app.post(
    '/v1/portal/purchases',
    {
      schema: {
        tags: ['portal'],
        summary: 'Buy a credit pack (checkout); answers 202 with the purchase and its next action',
        description: `Requires an Idempotency-Key header (1–255 characters): the same key and body return the same purchase (one workflow, one charge); the same key with another body answers 409 idempotency_key_reused. Eligibility failures known now (no such pack, archived, plan not credits-based, pack not visible, no subscription, subscription past due/canceled/ended) answer at once with their code and start nothing. A missing card is not a refusal: the purchase asks for one (nextAction add_payment_method). The answer waits up to ${checkoutWaitMs} ms for the purchase to need something or settle; poll GET /v1/portal/purchases/{id} after that. A purchase recorded whose workflow cannot be started right now (the workflow service is unreachable) still answers 202, pending: it is started shortly (by the worker's sweep, or a retry with the same key); 503 service_unavailable only when nothing was recorded (retry with the same key).`,
        security: portalSecurity,
        headers: CheckoutHeaders,
        body: checkoutBody(config.MAX_PURCHASE_QUANTITY),
        response: S.responses(202, S.Purchase),
      },
      validatorCompiler: (route) =>
        TypeBoxValidatorCompiler(
          route.httpPart === 'body' ? { ...route, schema: checkoutBody(QUANTITY_CEILING) } : route,
        ),
    },
    async (request, reply) => {
      const { organizationId, customerId } = sessionOf(request);
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || key.trim() === '') {
        throw new AppError(
          'idempotency_key_missing',
          'The Idempotency-Key header is required (1 to 255 characters).',
        );
      }
      const { creditPackId } = request.body;
      const quantity = request.body.quantity ?? 1;

      // A key already used: the purchase it made answers (or its other body is refused), whatever the
      // customer's eligibility is now. A new key: known eligibility failures are refused before anything is recorded.
      const [known] = await sql<{ id: string }[]>`
        select id from purchases
         where organization_id = ${organizationId} and customer_id = ${customerId} and idempotency_key = ${key}`;
      if (!known) {
        if (quantity > config.MAX_PURCHASE_QUANTITY) {
          throw new AppError(
            'quantity_exceeds_limit',
            `Quantity must be a whole number from 1 to ${config.MAX_PURCHASE_QUANTITY}.`,
          );
        }
        const facts = await loadPurchaseFacts(sql, { organizationId, customerId, creditPackId });
        if (!facts.customer) throw new AppError('unauthorized', 'Invalid or expired portal session.');
        const verdict = decideEligibility(facts);
        if (!verdict.ok) throw new AppError(verdict.code, verdict.message);
      }
      if (!temporal) throw unavailable('Checkout');

      let purchaseId: string;
      try {
        // Bounded: a workflow service that does not answer would otherwise hold the customer ~20 s
        // (the client's own retries) before the answer below, which is the same.
        const { purchase, created } = await temporal.withDeadline(Date.now() + START_DEADLINE_MS, () =>
          checkout(
            { sql, client: temporal, config },
            { organizationId, customerId, creditPackId, quantity, idempotencyKey: key },
          ),
        );
        purchaseId = purchase.id;
        request.log.info(
          { purchaseId, created, idempotencyKey: key },
          created ? 'checkout: purchase created' : 'checkout: replayed',
        );
      } catch (error) {
        if (error instanceof AppError) throw error;
        // The checkout records the purchase, then starts its workflow: which step failed? A recorded
        // purchase is a promise (the orphan sweep, or a retry of this key, starts it), so it answers 202
        // like any pending purchase; answering an error would invite a second click, a new key, a
        // second purchase and two charges. Only a purchase not recorded at all answers 503.
        const recorded = await recordedCheckout(sql, {
          organizationId,
          customerId,
          idempotencyKey: key,
          creditPackId,
          quantity,
        }).catch(() => null);
        if (!recorded) {
          request.log.error({ err: error, idempotencyKey: key }, 'checkout failed: nothing recorded');
          throw new AppError(
            'service_unavailable',
            'The purchase could not be started right now; retry with the same Idempotency-Key (it will not be charged twice).',
          );
        }
        request.log.error(
          { err: error, purchaseId: recorded.id, status: recorded.status, idempotencyKey: key },
          'checkout: purchase recorded but its workflow could not be started; the orphan sweep (or a retry of this key) starts it',
        );
        // Nothing runs it yet, so nothing is worth waiting for: answer the purchase as it is.
        return reply
          .status(202)
          .header('location', `/v1/portal/purchases/${recorded.id}`)
          .send(envelope(toPurchase(recorded)));
      }
      const row = await purchaseForAnswer(sql, { organizationId, customerId, purchaseId }, checkoutWaitMs);
      return reply
        .status(202)
        .header('location', `/v1/portal/purchases/${row.id}`)
        .send(envelope(toPurchase(row)));
    },
  );

  app.post(
    '/v1/portal/purchases/:id/cancel',
    {
      schema: {
        tags: ['portal'],
        summary: 'Cancel a purchase that is still waiting (for a card or for 3-D Secure)',
        description:
          'Answers the settled purchase: canceled (nothing charged), or refunded if a charge went through meanwhile. A purchase recorded but not started yet (pending, no workflow) is canceled at once. 409 purchase_not_cancelable once the purchase is being charged or is settled.',
        security: portalSecurity,
        params: S.IdParams('pur'),
        response: S.responses(200, S.Purchase),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      const row = await getCustomerPurchase(sql, {
        organizationId,
        customerId,
        purchaseId: request.params.id,
      });
      request.log.info({ purchaseId: row.id }, 'cancel requested by the customer');
      return envelope(toPurchase(await cancelPurchase({ sql, temporal }, row, 'customer')));
    },
  );
};
