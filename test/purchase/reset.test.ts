import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

/**
 * An operator resets a completed purchase's workflow (Temporal's reset: a new run replays the history
 * up to a workflow task, then runs the code from there). Every money step asks whether its run drives
 * the purchase, so whatever the reset point, the new run charges, refunds and credits nothing: one
 * charge stands and the credits are intact. Stripe's idempotency keys are expired before each reset, as
 * they would be more than 24 h after the purchase, so the keys cannot be what protects it.
 */

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

async function expireIdempotencyKeys(prefix: string): Promise<void> {
  const response = await fetch(`${env.emulatorUrl}/_emulator/idempotency/expire`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prefix }),
  });
  expect(response.ok).toBe(true);
}

describe('resetting a completed purchase', () => {
  it('to each earlier workflow task: one charge, the credits intact, the purchase still completed', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    const { runId: originalRunId } = await handle.describe();
    const history = await handle.fetchHistory();
    const workflowTasks = (history.events ?? [])
      .filter((e) => e.workflowTaskCompletedEventAttributes)
      .map((e) => Number(e.eventId));
    expect(workflowTasks.length).toBeGreaterThan(3);

    const client = env.temporal.client;
    for (const eventId of workflowTasks) {
      await expireIdempotencyKeys(purchaseId);
      const { runId } = await client.workflowService.resetWorkflowExecution({
        namespace: env.config.TEMPORAL_NAMESPACE,
        workflowExecution: { workflowId: handle.workflowId, runId: originalRunId },
        reason: `test: reset to workflow task ${eventId}`,
        // protobufjs takes a plain number for an int64
        workflowTaskFinishEventId: eventId as never,
        requestId: randomUUID(),
      });
      // The new run ends on its own: quietly, or failing loudly because it may not touch the purchase.
      await client.workflow
        .getHandle(handle.workflowId, runId ?? undefined)
        .result()
        .catch(() => null);

      const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
      expect(stripe.paymentIntents, `after reset to ${eventId}`).toHaveLength(1);
      expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
      expect(stripe.refunds).toHaveLength(0);
      expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
      const [row] = await env.sql<{ status: string; grants: number }[]>`
        select p.status,
               (select count(*)::int from credit_ledger l where l.purchase_id = p.id and l.kind = 'purchase_grant') as grants
          from purchases p where p.id = ${purchaseId}`;
      expect(row, `after reset to ${eventId}`).toEqual({ status: 'completed', grants: 1 });
    }
    // Stripe was asked to charge only by the original run.
    const state = (await emulatorControl(env.emulatorUrl).state()) as unknown as {
      requests: { method: string; path: string; idempotencyKey?: string }[];
    };
    const charges = state.requests.filter(
      (r) =>
        r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey?.startsWith(purchaseId),
    );
    expect(charges).toHaveLength(1);
  });
});
