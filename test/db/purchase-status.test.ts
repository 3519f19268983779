import { describe, expect, it } from 'vitest';
import { cancelUnclaimedPurchase, claimPurchase, recordPurchaseStatus } from '../../src/db/purchase-status';
import { findPurchase } from '../../src/db/purchases';
import {
  canTransition,
  ForbiddenTransitionError,
  type PurchaseStatus,
  purchaseStatuses,
} from '../../src/domain/purchase-states';
import { insertPurchase, newCustomer, newPack, newWorld, useHarness } from '../catalog/helpers';

/**
 * Every status write goes through the transition table (src/domain/purchase-states.ts): an allowed
 * move is recorded, a repeat of the current status is a no-op retry, a forbidden move throws and
 * writes nothing, and another run's purchase is left alone.
 */

const h = useHarness();

async function purchaseIn(status: PurchaseStatus) {
  const w = await newWorld(h.app);
  const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
  const c = await newCustomer(h.app, w, w.plans.pro.id);
  return insertPurchase(h.sql, { orgId: w.orgId, customerId: c.customer.id, pack, status });
}

const record = (purchaseId: string, status: PurchaseStatus, runId = 'run-1') =>
  recordPurchaseStatus(h.sql, { purchaseId, status, nextAction: null, failure: null }, runId);

const statusOf = async (purchaseId: string) => (await findPurchase(h.sql, purchaseId))?.status;

describe('purchase status writes follow the transition table', () => {
  it('records an allowed move and accepts the same write again (a retried activity)', async () => {
    const purchaseId = await purchaseIn('pending');
    expect(await claimPurchase(h.sql, purchaseId, 'run-1')).toEqual({ claimed: true });
    expect(await record(purchaseId, 'charging')).toBe(true);
    expect(await record(purchaseId, 'charging')).toBe(true);
    expect(await statusOf(purchaseId)).toBe('charging');
    const [log] = await h.sql<{ n: number }[]>`
      select count(*)::int as n from purchase_transitions where purchase_id = ${purchaseId} and to_status = 'charging'`;
    expect(log?.n).toBe(1);
  });

  it('refuses a move outside the table, loudly, and writes nothing', async () => {
    const purchaseId = await purchaseIn('pending');
    await claimPurchase(h.sql, purchaseId, 'run-1');
    // pending → completed skips the charge and the grant: never allowed, though the database's own
    // guard (settled purchases only) would let it through.
    const refused = await record(purchaseId, 'completed').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ForbiddenTransitionError);
    expect((refused as ForbiddenTransitionError).message).toContain('from pending to completed');
    expect(await statusOf(purchaseId)).toBe('pending');

    const settled = await purchaseIn('canceled');
    await expect(record(settled, 'charging')).rejects.toBeInstanceOf(ForbiddenTransitionError);
    expect(await statusOf(settled)).toBe('canceled');
  });

  it('allows crediting → failed (a step failing for good after the charge with nothing left to refund)', async () => {
    expect(canTransition('crediting', 'failed')).toBe(true);
    const purchaseId = await purchaseIn('crediting');
    expect(await record(purchaseId, 'failed')).toBe(true);
    expect(await statusOf(purchaseId)).toBe('failed');
  });

  it("leaves another run's purchase alone (false, nothing written)", async () => {
    const purchaseId = await purchaseIn('pending');
    await claimPurchase(h.sql, purchaseId, 'run-1');
    expect(await record(purchaseId, 'charging', 'run-2')).toBe(false);
    expect(await statusOf(purchaseId)).toBe('pending');
    expect(await claimPurchase(h.sql, purchaseId, 'run-2')).toEqual({
      claimed: false,
      current: { status: 'pending', workflowRunId: 'run-1' },
    });
  });

  it('cancels an unclaimed pending purchase, never a claimed one', async () => {
    const unclaimed = await purchaseIn('pending');
    expect((await cancelUnclaimedPurchase(h.sql, unclaimed, 'Canceled by an operator.'))?.status).toBe(
      'canceled',
    );
    const claimed = await purchaseIn('pending');
    await claimPurchase(h.sql, claimed, 'run-1');
    expect(await cancelUnclaimedPurchase(h.sql, claimed, 'Canceled by an operator.')).toBeNull();
    expect(await statusOf(claimed)).toBe('pending');
  });

  it('every terminal status but completed has no way out, and nothing leads back to pending', () => {
    for (const from of purchaseStatuses) expect(canTransition(from, 'pending')).toBe(false);
    expect(purchaseStatuses.filter((to) => canTransition('completed', to))).toEqual(['refunded']);
  });
});
