export { testCards } from './cards';
export {
  DEFAULT_API_VERSION,
  Emulator,
  type StripeEmulatorHandle,
  type StripeEmulatorOptions,
  startStripeEmulator,
} from './emulator';
export type { FaultInput } from './faults';
export { signPayload } from './webhooks';
