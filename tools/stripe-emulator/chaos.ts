/**
 * Chaos for soaks: faults that strike a share of the API requests at random, instead of the next N
 * (faults.ts), and webhook deliveries duplicated and delayed at random (a random delay per delivery also
 * reorders them). Every draw comes from one seeded generator, so a run with the same seed and the same
 * sequence of requests injects the same faults; counters of what was injected are readable through
 * `GET /_emulator/chaos`.
 *
 * Rules are exclusive: one draw per request, compared with the rules' rates added up in order, so
 * `[{ rate: 0.1 }, { rate: 0.05 }]` strikes 10 % and 5 % of the requests both match, never both at once.
 */
import { z } from 'zod';
import { type Fault, faultSchema } from './faults';

const ruleSchema = z.object({
  /** the rule's name in the counters (default: its action type) */
  name: z.string().min(1).max(100).optional(),
  match: faultSchema.shape.match,
  /** share of the matching requests it strikes, 0–1 */
  rate: z.number().min(0).max(1),
  action: faultSchema.shape.action,
});

export const chaosSchema = z.object({
  seed: z.number().int().default(1),
  rules: z.array(ruleSchema).default([]),
  webhooks: z
    .object({
      /** share of the events delivered twice to every endpoint */
      duplicateRate: z.number().min(0).max(1).default(0),
      /** share of the deliveries (first attempts) held back by a random delay up to `maxDelayMs` */
      delayRate: z.number().min(0).max(1).default(0),
      maxDelayMs: z.number().int().nonnegative().max(600_000).default(0),
    })
    .default({ duplicateRate: 0, delayRate: 0, maxDelayMs: 0 }),
});

export type ChaosInput = z.input<typeof chaosSchema>;

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosCounters {
  /** API requests the rules were asked about */
  requests: number;
  /** per rule name: requests it struck */
  injected: Record<string, number>;
  webhooks: {
    events: number;
    duplicated: number;
    delayed: number;
    /** first attempts sent after an attempt of a later event was sent: deliveries out of order */
    reordered: number;
  };
}

function emptyCounters(): ChaosCounters {
  return { requests: 0, injected: {}, webhooks: { events: 0, duplicated: 0, delayed: 0, reordered: 0 } };
}

export class Chaos {
  private settings: z.infer<typeof chaosSchema> | null = null;
  private random: () => number = seededRandom(1);
  private latestSent = 0;
  counters: ChaosCounters = emptyCounters();

  /** Replaces the settings, reseeds the generator and zeroes the counters. */
  configure(input: unknown): { settings: z.infer<typeof chaosSchema>; counters: ChaosCounters } {
    const settings = chaosSchema.parse(input);
    for (const rule of settings.rules) if (rule.match.pathRegex) new RegExp(rule.match.pathRegex);
    this.settings = settings;
    this.random = seededRandom(settings.seed);
    this.counters = emptyCounters();
    this.latestSent = 0;
    return { settings, counters: this.counters };
  }

  /** Chaos off; the counters stay readable. */
  off(): void {
    this.settings = null;
  }

  state(): { settings: z.infer<typeof chaosSchema> | null; counters: ChaosCounters } {
    return { settings: this.settings, counters: this.counters };
  }

  /** The fault to apply to this API request, as a one-off Fault; null when no rule strikes. */
  take(method: string, path: string): Fault | null {
    const settings = this.settings;
    if (!settings || settings.rules.length === 0) return null;
    this.counters.requests++;
    const draw = this.random();
    let bound = 0;
    for (const rule of settings.rules) {
      const { match } = rule;
      if (match.method && match.method !== method) continue;
      if (match.path && !path.startsWith(match.path)) continue;
      if (match.pathRegex && !new RegExp(match.pathRegex).test(path)) continue;
      bound += rule.rate;
      if (draw < bound) {
        const name = rule.name ?? rule.action.type;
        this.counters.injected[name] = (this.counters.injected[name] ?? 0) + 1;
        return { id: `chaos_${name}`, match, remaining: 0, hits: 1, action: rule.action };
      }
    }
    return null;
  }

  /** Whether an event is delivered twice (drawn once per event, only when webhook chaos is on). */
  duplicateEvent(): boolean {
    const w = this.settings?.webhooks;
    if (!w) return false;
    this.counters.webhooks.events++;
    if (w.duplicateRate > 0 && this.random() < w.duplicateRate) {
      this.counters.webhooks.duplicated++;
      return true;
    }
    return false;
  }

  /** Extra delay of one first delivery attempt, in ms (0 when not delayed). */
  deliveryDelayMs(): number {
    const w = this.settings?.webhooks;
    if (!w || w.delayRate <= 0 || w.maxDelayMs <= 0) return 0;
    if (this.random() >= w.delayRate) return 0;
    this.counters.webhooks.delayed++;
    return Math.floor(this.random() * w.maxDelayMs);
  }

  /** Notes the first attempt of the `seq`-th event being sent; counts it reordered when a later one went first. */
  noteFirstSend(seq: number): void {
    if (!this.settings) return;
    if (seq < this.latestSent) this.counters.webhooks.reordered++;
    else this.latestSent = seq;
  }
}
