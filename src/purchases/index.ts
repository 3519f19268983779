/**
 * The purchase, seen from outside its workflow: everything that starts, finds, tells or cancels a
 * purchase goes through here (the portal's routes, the webhook receiver, the operators' command line,
 * the worker's sweep). The workflow itself is src/workflows/purchase/; its SQL is in src/db/.
 */
export {
  notifyAutoTopUp,
  notifyAutoTopUpOfPurchase,
  purchaseStarter,
  signalAutoTopUp,
  signalUnmirroredAutoTopUps,
} from './auto-top-up';
export { cancelPurchase } from './cancel';
export {
  adoptCardReplacement,
  CARD_REPLACEMENT_PURPOSE,
  type CardOnFile,
  type CardReplacementOutcome,
  findCardReplacement,
  readCardOnFile,
  startCardReplacement,
} from './card-on-file';
export {
  type CheckoutRequest,
  type CustomerCheckoutResult,
  checkout,
  checkoutForCustomer,
  checkoutRequestHash,
  createPurchase,
} from './checkout';
export { type PurchaseLog, workflowServiceUnavailable } from './errors';
export { findPurchaseWithWorkflow } from './find';
export { applyMoneyEvent, type MoneyEventPlan, moneyEventTypes, prepareMoneyEvent } from './money-events';
export {
  createPurchaseChanges,
  type PurchaseChanges,
  type PurchaseSubscription,
} from './purchase-changes';
export { refundPurchase, refundRequestHash, startOrphanedRefunds, startRefundWorkflow } from './refunds';
export { hintPurchase, type PurchaseHint } from './signals';
export { SWEEP_LIMIT, startOrphanedPurchases } from './sweep';
export { PURCHASE_REREAD_INTERVAL_MS, waitForPurchase } from './wait';
export {
  type PurchaseTimeouts,
  purchaseTimeouts,
  purchaseWorkflowExists,
  startPurchaseWorkflow,
} from './workflow-start';
