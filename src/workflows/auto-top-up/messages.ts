import { defineSignal } from '@temporalio/workflow';

export { autoTopUpWorkflowId } from '../../domain/auto-top-up';

/**
 * A customer's long-lived auto top-up workflow (ARCHITECTURE.md, "Auto top-up"): Postgres decides, this
 * workflow starts the owed top-up and mirrors the state into search attributes.
 */
export interface AutoTopUpWorkflowInput {
  organizationId: string;
  customerId: string;
  /** Signals handled before the run continues as new (default AUTO_TOP_UP_SIGNALS_PER_RUN). */
  signalsPerRun?: number;
  /** Signals received but not yet handled by the run that continued as new. */
  pendingSignals?: number;
}

/**
 * "The customer's auto top-up may have changed": sent by signal-with-start after every commit that
 * changes it or records a top-up (the reason is for the history's readers only), and by the worker's
 * sweep for a change never mirrored. The workflow re-reads Postgres; the signal carries no state.
 */
export const autoTopUpChangedSignal = defineSignal<[reason?: string]>('changed');

/** Signals a run handles before it continues as new (bounds its history). */
export const AUTO_TOP_UP_SIGNALS_PER_RUN = 500;
