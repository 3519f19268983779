import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrphanedPurchases } from '../../src/purchases';
import { purchaseWorkflowId } from '../../src/workflows';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

describe('a purchase recorded at checkout whose workflow never started', () => {
  it('is started by the sweep, once, and completes', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    // The checkout died between recording the row and starting the workflow.
    const { purchaseId } = await env.record(shopper);
    const deps = { sql: env.sql, client: env.temporal.client, config: env.config };
    const scope = { olderThanMs: 0, organizationId: shopper.organizationId };

    const first = await startOrphanedPurchases(deps, scope);
    expect(first.started).toEqual([purchaseId]);
    const handle = env.temporal.client.workflow.getHandle(purchaseWorkflowId(purchaseId));
    // A second sweep while it runs, or after it settled, starts nothing.
    expect((await startOrphanedPurchases(deps, scope)).started).toEqual([]);
    expect((await handle.result()).status).toBe('completed');
    expect((await startOrphanedPurchases(deps, scope)).started).toEqual([]);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });

  it('is left alone while younger than the grace period', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await env.record(shopper);
    const result = await startOrphanedPurchases(
      { sql: env.sql, client: env.temporal.client, config: env.config },
      { olderThanMs: 60_000, organizationId: shopper.organizationId },
    );
    expect(result).toEqual({ checked: 0, started: [], signaled: [] });
  });
});
