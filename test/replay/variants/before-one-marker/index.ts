/**
 * The workflow bundle as deployed with the three 2026-11-27 round-trip patches, before the one marker
 * (test/replay/in-flight-at-deploy.test.ts): the current workflows, but the purchase's code of then.
 */
export { diagnosticsWorkflow } from '../../../../src/workflows';
export * from '../../../../src/workflows/purchase/messages';
export { purchaseWorkflow } from './workflow';
