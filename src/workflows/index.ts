// The workflow bundle's entry point: every workflow type the worker registers.
export { diagnosticsWorkflow } from './diagnostics';
export * from './purchase/messages';
export { purchaseWorkflow } from './purchase/workflow';
export * from './refund/messages';
export { refundWorkflow } from './refund/workflow';
