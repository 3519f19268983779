/**
 * A deliberately INCOMPATIBLE variant of the workflow bundle (test/replay/breakage.test.ts): the real
 * workflows, except that `purchaseWorkflow` first runs one extra activity, unconditionally. Every
 * recorded purchase began with the eligibility check, so replaying one must fail with a
 * nondeterminism error. Not a production code path; src/workflows is untouched.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../../src/activities';
import {
  purchaseWorkflow as current,
  type PurchaseInput,
  type PurchaseState,
} from '../../../../src/workflows';

export { diagnosticsWorkflow } from '../../../../src/workflows';
export * from '../../../../src/workflows/purchase/messages';

const { describeDatabase } = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });

export async function purchaseWorkflow(input: PurchaseInput): Promise<PurchaseState> {
  await describeDatabase(); // the change: a new step, added without patched()
  return current(input);
}
