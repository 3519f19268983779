export { type ClientOptions, CreditPacks } from './client.js';
export { CreditPacksError, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS } from './core.js';
export type { paths } from './generated/openapi.js';
export { PortalClient, type PortalClientOptions } from './portal.js';
export type * from './types.js';
export {
  type AutoTopUp,
  type AutoTopUpPausedEvent,
  type CreditPacksEvent,
  CreditPacksSignatureError,
  constructEvent,
  generateTestHeader,
  type PurchaseEvent,
  type PurchaseEventType,
  SIGNATURE_HEADER,
  type SignatureFailure,
  verify,
  webhooks,
} from './webhooks.js';
