import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPack, newWorld } from '../catalog/helpers';
import { waitFor } from '../support/wait';
import { type EventsHarness, eventsHarness, type TestReceiver, testReceiver } from './support';

/**
 * Endpoints that never answer do not slow purchases down: deliveries run on their own task queue and
 * worker slots. 20 purchases with no endpoint, then 20 in an organization whose three endpoints all
 * stall (each attempt held until the 10 s timeout, retried), measured and printed. The bound asserted
 * is loose (the machine is shared); the contract's figure is 1.2×.
 */

let h: EventsHarness;
let stalling: TestReceiver;
beforeAll(async () => {
  h = await eventsHarness({ retryBaseMs: 1_000 });
  stalling = await testReceiver(() => 'stall');
});
afterAll(async () => {
  await h?.close();
  await stalling?.close();
});

async function twentyPurchases(world: Awaited<ReturnType<typeof newWorld>>): Promise<number> {
  const pack = await newPack(h.app, world, { credits: 10, price: 900 });
  const buyers = await Promise.all(
    Array.from({ length: 20 }, () => h.customer({ card: 'pm_card_visa', world })),
  );
  const started = Date.now();
  await Promise.all(
    buyers.map(async (who) => {
      const id = (await h.checkout(who, { creditPackId: pack.id })).body.data.id as string;
      await h.purchaseReaches(who, id, 'completed', 60_000);
    }),
  );
  return Date.now() - started;
}

describe('purchases while every endpoint stalls', () => {
  it('finish about as fast as with no endpoint', async () => {
    // Warm up (bundles, connections), then the baseline.
    await twentyPurchases(await newWorld(h.app));
    const baselineMs = await twentyPurchases(await newWorld(h.app));

    const world = await newWorld(h.app);
    h.organizationIds.push(world.orgId);
    for (let i = 0; i < 3; i += 1) await h.endpoint(`${stalling.url}/${i}`, undefined, world.apiKey);
    // Deliveries already hanging when the measure starts: one purchase first, until an attempt stalls
    // (twenty purchases can finish before their own events reach the endpoints).
    const pack = await newPack(h.app, world, { credits: 10, price: 900 });
    const first = await h.customer({ card: 'pm_card_visa', world });
    const firstId = (await h.checkout(first, { creditPackId: pack.id })).body.data.id as string;
    await h.purchaseReaches(first, firstId, 'completed', 60_000);
    await waitFor(() => stalling.received.length > 0, 'a delivery attempt hanging on an endpoint', 30_000);
    const stallingMs = await twentyPurchases(world);
    const attemptsDuring = stalling.received.length;

    console.log(
      `[stalling endpoints] 20 purchases: ${baselineMs} ms with no endpoint, ${stallingMs} ms with 3 stalling endpoints (${(stallingMs / baselineMs).toFixed(2)}×); ${attemptsDuring} delivery attempts hanging meanwhile`,
    );
    // The deliveries were really under way (and hanging) while the purchases ran.
    expect(attemptsDuring).toBeGreaterThan(0);
    expect(stallingMs).toBeLessThan(Math.max(2 * baselineMs, baselineMs + 5_000));
  }, 180_000);
});
