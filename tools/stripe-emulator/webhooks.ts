/**
 * Webhook delivery as Stripe does it: every event POSTed to every endpoint as JSON, signed with
 * `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`, at least once, retried
 * with exponential backoff on a non-2xx answer or a network error (bounded attempts), never blocking the API
 * response that caused the event. Test controls: withhold (then release in order, reversed or shuffled),
 * delay, duplicate, resend.
 */
import { createHmac } from 'node:crypto';
import type { Chaos } from './chaos';
import { newId, nowSeconds } from './ids';
import type { StripeEvent } from './state';

export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
  /** `config`: given at start (kept across resets); `runtime`: registered through the control API */
  source: 'config' | 'runtime';
}

export interface DeliveryAttempt {
  eventId: string;
  eventType: string;
  endpointId: string;
  url: string;
  attempt: number;
  duplicate: boolean;
  status: number | null;
  error: string | null;
  at: number;
}

export interface WebhookControls {
  /** queue deliveries instead of sending them, until released */
  withhold: boolean;
  /** wait this long before each first delivery attempt */
  delayMs: number;
  /** deliver each of the next N events twice to every endpoint */
  duplicateNext: number;
}

interface Job {
  /** the event's place in creation order (chaos counts deliveries out of order) */
  seq: number;
  event: StripeEvent;
  endpoint: WebhookEndpoint;
  attempt: number;
  duplicate: boolean;
}

export interface DispatcherOptions {
  retryBaseMs: number;
  maxAttempts: number;
  timeoutMs: number;
  onDelivered?: (eventId: string) => void;
}

export function signPayload(payload: string, secret: string, timestamp = nowSeconds()): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export class WebhookDispatcher {
  endpoints: WebhookEndpoint[] = [];
  controls: WebhookControls = { withhold: false, delayMs: 0, duplicateNext: 0 };
  withheld: Job[] = [];
  attempts: DeliveryAttempt[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private inflight = new Set<AbortController>();
  private generation = 0;
  private sequence = 0;
  /** random duplicates and delays (chaos.ts), when set */
  chaos: Chaos | null = null;

  constructor(private readonly options: DispatcherOptions) {}

  addEndpoint(url: string, secret: string, source: WebhookEndpoint['source']): WebhookEndpoint {
    const endpoint = { id: newId('we'), url, secret, source };
    this.endpoints.push(endpoint);
    return endpoint;
  }

  removeRuntimeEndpoints(): void {
    this.endpoints = this.endpoints.filter((e) => e.source === 'config');
  }

  enqueue(event: StripeEvent): void {
    const forced = this.controls.duplicateNext > 0;
    if (forced) this.controls.duplicateNext--;
    const duplicate = (this.chaos?.duplicateEvent() ?? false) || forced;
    const seq = ++this.sequence;
    for (const endpoint of this.endpoints) {
      this.route({ seq, event, endpoint, attempt: 1, duplicate: false });
      if (duplicate) this.route({ seq, event, endpoint, attempt: 1, duplicate: true });
    }
  }

  /** Redelivers an event to every endpoint (a duplicate, as Stripe may send). */
  resend(event: StripeEvent): void {
    const seq = ++this.sequence;
    for (const endpoint of this.endpoints) this.route({ seq, event, endpoint, attempt: 1, duplicate: true });
  }

  /** Sends the withheld deliveries one after the other, in the requested order. */
  release(order: 'fifo' | 'reverse' | 'shuffle'): number {
    const jobs = this.withheld.splice(0);
    if (order === 'reverse') jobs.reverse();
    if (order === 'shuffle') {
      // A test asks for a shuffle to get events out of order: with three or more, never hand back the
      // creation order or its reverse (those have their own orders), so the reordering is guaranteed.
      const original = [...jobs];
      const same = (a: Job[]) => a.every((job, i) => job === original[i]);
      const reversed = (a: Job[]) => a.every((job, i) => job === original[original.length - 1 - i]);
      do {
        for (let i = jobs.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [jobs[i], jobs[j]] = [jobs[j] as Job, jobs[i] as Job];
        }
      } while (jobs.length >= 3 && (same(jobs) || reversed(jobs)));
    }
    const generation = this.generation;
    void (async () => {
      for (const job of jobs) {
        if (generation !== this.generation) return;
        await this.send(job);
      }
    })();
    return jobs.length;
  }

  /** Deliveries scheduled, running or withheld. */
  pending(): number {
    return this.timers.size + this.inflight.size + this.withheld.length;
  }

  reset(): void {
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
    this.withheld = [];
    this.attempts = [];
    this.controls = { withhold: false, delayMs: 0, duplicateNext: 0 };
  }

  private route(job: Job): void {
    if (this.controls.withhold) this.withheld.push(job);
    else this.schedule(job, this.controls.delayMs + (this.chaos?.deliveryDelayMs() ?? 0));
  }

  private schedule(job: Job, ms: number): void {
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (generation === this.generation) void this.send(job);
    }, ms);
    this.timers.add(timer);
  }

  private async send(job: Job): Promise<void> {
    const generation = this.generation;
    if (job.attempt === 1 && !job.duplicate) this.chaos?.noteFirstSend(job.seq);
    const payload = JSON.stringify(job.event, null, 2);
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), this.options.timeoutMs);
    this.inflight.add(controller);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(job.endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signPayload(payload, job.endpoint.secret),
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
        signal: controller.signal,
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(controller);
    }
    if (generation !== this.generation) return;
    this.attempts.push({
      eventId: job.event.id,
      eventType: job.event.type,
      endpointId: job.endpoint.id,
      url: job.endpoint.url,
      attempt: job.attempt,
      duplicate: job.duplicate,
      status,
      error,
      at: Date.now(),
    });
    if (this.attempts.length > 10_000) this.attempts.splice(0, this.attempts.length - 10_000);
    const ok = status !== null && status >= 200 && status < 300;
    if (ok) {
      if (!job.duplicate) this.options.onDelivered?.(job.event.id);
      return;
    }
    if (job.attempt < this.options.maxAttempts) {
      this.schedule({ ...job, attempt: job.attempt + 1 }, this.options.retryBaseMs * 2 ** (job.attempt - 1));
    }
  }
}
