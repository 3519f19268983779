// The null purchase's workflow bundle (bundled by the null worker, never by the product): the floor the
// purchase is measured against. Never changed to meet a goal (docs/benchmarks.md).
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import { databaseActivityOptions } from '../../src/workflows/activity-options';
import type { NullActivities } from './null-activities';

const steps = proxyActivities<NullActivities>(databaseActivityOptions);

export const nullWakeSignal = defineSignal('nullWake');
/** Whether the workflow has reached its parking wait (the bench's readiness check). */
export const nullParkedQuery = defineQuery<boolean>('nullParked');

export interface NullPurchaseInput {
  purchaseId: string;
  /** Park after the second step until `nullWake` (the purchase awaiting a card), then finish. */
  park?: boolean;
}

/** Four regular activities that return at once, no search-attribute upserts. */
export async function nullPurchaseWorkflow(input: NullPurchaseInput): Promise<{ status: 'completed' }> {
  let woken = false;
  let parked = false;
  setHandler(nullWakeSignal, () => {
    woken = true;
  });
  setHandler(nullParkedQuery, () => parked);
  await steps.nullEligibility(input.purchaseId);
  await steps.nullCardOnFile(input.purchaseId);
  if (input.park) {
    parked = true;
    await condition(() => woken);
  }
  await steps.nullCharge(input.purchaseId);
  await steps.nullGrant(input.purchaseId);
  return { status: 'completed' };
}
