// The workflow bundle's entry point: every workflow type the worker registers.

export * from './auto-top-up/messages';
export { autoTopUpWorkflow } from './auto-top-up/workflow';
export {
  type EventDeliveryInput,
  type EventDeliveryResult,
  eventDeliveryWorkflow,
} from './delivery/workflow';
export { diagnosticsWorkflow } from './diagnostics';
export * from './purchase/messages';
export { purchaseWorkflow } from './purchase/workflow';
export * from './refund/messages';
export { refundWorkflow } from './refund/workflow';
