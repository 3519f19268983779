/**
 * The same change as ../incompatible, made safely (test/replay/breakage.test.ts): the extra activity
 * runs only `if (patched(...))`. A new run records the patch marker and takes the new step; a replay of
 * a history recorded before the change finds no marker, skips the step, and stays deterministic.
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../../src/activities';
import {
  purchaseWorkflow as current,
  type PurchaseInput,
  type PurchaseState,
} from '../../../../src/workflows';

export { diagnosticsWorkflow } from '../../../../src/workflows';
export * from '../../../../src/workflows/purchase/messages';

const { describeDatabase } = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });

export const VARIANT_PATCH_ID = 'variant-extra-step';

export async function purchaseWorkflow(input: PurchaseInput): Promise<PurchaseState> {
  if (patched(VARIANT_PATCH_ID)) await describeDatabase(); // the same change, behind patched()
  return current(input);
}
