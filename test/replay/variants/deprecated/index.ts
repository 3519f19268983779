/**
 * Step two of the procedure (CONTRIBUTING.md), for test/replay/breakage.test.ts: the change of
 * ../patched with `deprecatePatch()`. The new step always runs and a deprecated marker is recorded;
 * runs recorded by ../patched replay, runs recorded before the patch no longer do.
 */
import { deprecatePatch, proxyActivities } from '@temporalio/workflow';
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
  deprecatePatch('variant-extra-step');
  await describeDatabase();
  return current(input);
}
