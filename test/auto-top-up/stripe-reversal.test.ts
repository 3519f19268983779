import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purchaseWorkflowExists } from '../../src/purchases';
import { autoTopUpWorkflowId, purchaseWorkflowId } from '../../src/workflows';
import { ok } from '../catalog/helpers';
import { type PortalHarness, portalHarness } from '../checkout/harness';
import { waitFor } from '../support/wait';

/**
 * A refund made in Stripe (not through our API) takes credits back through the webhook receiver; the
 * top-up that reversal records is started by the customer's auto top-up workflow, signaled after the
 * webhook's commit, without waiting for the sweep (none runs here). All real: the portal with its Stripe
 * webhooks from a private emulator, the test worker, Postgres. The pack: 500 credits for 4000 cents.
 */

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness();
});
afterAll(() => h?.close());

describe('a reversal taken in by the Stripe webhook', () => {
  it("records a top-up that the customer's workflow starts at once", async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const res = await h.checkout(who);
    expect(res.status).toBe(202);
    const bought = await h.purchaseReaches(who, res.body.data.id, 'completed');
    const [row] = await h.env.sql<{ pi: string }[]>`
      select stripe_payment_intent_id as pi from purchases where id = ${bought.id}`;
    // 1,000 plan + 500 purchased; use the plan's 1,000, then turn auto top-up on above the threshold.
    await ok(h.app, 'POST', `/v1/customers/${who.id}/usage`, {
      token: h.world.apiKey,
      body: { credits: 1_000 },
      headers: { 'idempotency-key': randomUUID() },
      status: 200,
    });
    await ok(h.app, 'PUT', `/v1/customers/${who.id}/auto-top-up`, {
      token: h.world.apiKey,
      body: { enabled: true, thresholdCredits: 100, creditPackId: h.pack.id, monthlyLimit: 100_000 },
    });
    const topUps = () =>
      h.env.sql<{ id: string }[]>`
        select id from purchases where customer_id = ${who.id} and trigger = 'auto_top_up'`;
    expect(await topUps()).toEqual([]);

    // Refunded in Stripe: the webhook takes the 500 credits back (total 0) and records the top-up.
    await h.env.stripe.refunds.create({ payment_intent: row?.pi as string });
    const [topUp] = await waitFor(
      async () => {
        const found = await topUps();
        return found.length > 0 ? found : null;
      },
      'the top-up recorded by the reversal',
      15_000,
    );
    await waitFor(
      () => purchaseWorkflowExists(h.env.temporal.client, topUp?.id ?? ''),
      "the top-up started by the customer's workflow",
      5_000,
    );
    const result = await h.env.temporal.client.workflow
      .getHandle(purchaseWorkflowId(topUp?.id ?? ''))
      .result();
    expect(result.status).toBe('completed');
    const described = await h.env.temporal.client.workflow
      .getHandle(autoTopUpWorkflowId(h.world.orgId, who.id))
      .describe();
    expect(described.status.name).toBe('RUNNING');
  }, 60_000);
});
