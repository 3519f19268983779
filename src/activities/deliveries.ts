import { Context, log } from '@temporalio/activity';
import type { Sql } from '../db/client';
import { loadDeliveryJob, recordDeliveryAttempt, settleDelivery, toApiEvent } from '../db/events';
import { DELIVERY_ATTEMPT_TIMEOUT_MS } from '../domain/events';
import { SIGNATURE_HEADER, signatureHeader } from '../events/signature';

export interface DeliveryInput {
  eventId: string;
  endpointId: string;
}

export type DeliveryOutcome = 'delivered' | 'canceled';

/** A delivery attempt the endpoint did not accept: retried by Temporal with the workflow's backoff. */
export class DeliveryAttemptFailed extends Error {
  override readonly name = 'DeliveryAttemptFailed';
}

/**
 * The I/O of an event's delivery to one endpoint (src/workflows/delivery): one signed POST per attempt.
 * Temporal owns the retries (the delivery workflow's retry policy); every attempt is counted on the
 * delivery's row, with its answer or error, for operators.
 */
export function createDeliveryActivities({ sql }: { sql: Sql }) {
  return {
    /**
     * POSTs the event, exactly as GET /v1/events lists it, signed with the endpoint's secret. Accepted:
     * a 2xx answer within 10 s. A redirect, another status, a network error or no answer in time throws
     * (retried). An endpoint deleted meanwhile, or a delivery canceled, sends nothing.
     */
    async deliverEvent(input: DeliveryInput): Promise<DeliveryOutcome> {
      const job = await loadDeliveryJob(sql, input);
      if (!job) throw new Error(`delivery of ${input.eventId} to ${input.endpointId} not found`);
      if (job.delivery.status === 'delivered') return 'delivered';
      if (job.delivery.status !== 'pending' || job.endpoint.deleted) {
        await settleDelivery(sql, input, 'canceled');
        return 'canceled';
      }
      const body = JSON.stringify(toApiEvent(job.event));
      const attempt = Context.current().info.attempt;
      let statusCode: number | null = null;
      let error: string | null = null;
      try {
        const response = await fetch(job.endpoint.url, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'credit-packs-webhooks/1',
            [SIGNATURE_HEADER]: signatureHeader(body, job.endpoint.secret),
          },
          body,
          signal: AbortSignal.any([
            AbortSignal.timeout(DELIVERY_ATTEMPT_TIMEOUT_MS),
            Context.current().cancellationSignal,
          ]),
        });
        statusCode = response.status;
        await response.body?.cancel().catch(() => undefined);
        if (statusCode < 200 || statusCode > 299) error = `answered ${statusCode}`;
      } catch (caught) {
        const cause = (caught as { cause?: { code?: string } }).cause?.code;
        error =
          caught instanceof Error && caught.name === 'TimeoutError'
            ? `no answer within ${DELIVERY_ATTEMPT_TIMEOUT_MS} ms`
            : `${caught instanceof Error ? caught.message : String(caught)}${cause ? ` (${cause})` : ''}`;
      }
      const delivered = error === null;
      await recordDeliveryAttempt(sql, input, { statusCode, error, delivered });
      if (!delivered) {
        log.warn('event delivery failed; retried', { ...input, attempt, error });
        throw new DeliveryAttemptFailed(`delivery to ${job.endpoint.url} failed: ${error}`);
      }
      log.info('event delivered', { ...input, attempt, statusCode });
      return 'delivered';
    },

    /** The retry window is over: the delivery is given up (it stays listed as failed). */
    async giveUpDelivery(input: DeliveryInput): Promise<void> {
      await settleDelivery(sql, input, 'failed');
      log.warn('event delivery given up after its retry window', { ...input });
    },
  };
}
