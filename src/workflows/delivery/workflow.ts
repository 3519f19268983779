import { ActivityFailure, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { DeliveryActivities } from '../../activities';
import type { DeliveryOutcome } from '../../activities/deliveries';

/** What a delivery workflow is started with: the event, the endpoint and its retry schedule. */
export interface EventDeliveryInput {
  eventId: string;
  endpointId: string;
  retry: {
    /** the first retry's delay (EVENT_DELIVERY_RETRY_BASE_MS); each later one doubles */
    initialIntervalMs: number;
    /** the longest delay between two attempts (1 hour) */
    maximumIntervalMs: number;
    /** attempts stop this long after the first (3 days) */
    windowMs: number;
  };
}

export type EventDeliveryResult = DeliveryOutcome | 'failed';

/**
 * One event delivered to one endpoint (workflow id `event-delivery:<eventId>:<endpointId>`), on the
 * deliveries' own task queue. Temporal owns the retries: the attempt activity is retried with
 * exponential backoff (base, ×2, capped) for the whole window; the attempts and the last failure are in
 * the Temporal UI, and each attempt is counted on the delivery's row. The window over, the delivery
 * is given up. Canceling the workflow (the endpoint deleted) stops it.
 */
export async function eventDeliveryWorkflow(input: EventDeliveryInput): Promise<EventDeliveryResult> {
  const { deliverEvent } = proxyActivities<Pick<DeliveryActivities, 'deliverEvent'>>({
    // one attempt: 10 s for the answer, plus the database around it
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: input.retry.windowMs,
    retry: {
      initialInterval: input.retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: input.retry.maximumIntervalMs,
    },
  });
  const { giveUpDelivery } = proxyActivities<Pick<DeliveryActivities, 'giveUpDelivery'>>({
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: '1 day',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  const ids = { eventId: input.eventId, endpointId: input.endpointId };
  try {
    return await deliverEvent.executeWithOptions({ summary: `deliver ${input.eventId}` }, [ids]);
  } catch (error) {
    if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
    await giveUpDelivery.executeWithOptions({ summary: 'give the delivery up' }, [ids]);
    return 'failed';
  }
}
