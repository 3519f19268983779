import {
  CreditPacksResource,
  CustomersResource,
  PlansResource,
  PortalSessionsResource,
  PurchasesResource,
  SubscriptionsResource,
} from './admin.js';
import { Transport } from './core.js';
import { PortalClient, type PortalClientOptions } from './portal.js';
import { webhooks } from './webhooks.js';

export interface ClientOptions<Throw extends boolean = false> {
  /** the organization API key (orgkey_…) */
  apiKey: string;
  /** the portal server, default http://127.0.0.1:3000 (what `npm start` runs) */
  baseUrl?: string;
  /** per attempt, default 30 000 ms */
  timeoutMs?: number;
  /** retries of a call that may be retried (network errors, 429, 5xx), default 2 */
  maxRetries?: number;
  /** throw a CreditPacksError instead of resolving to `{ success: false, error }` */
  throwOnError?: Throw;
}

/**
 * The credit-packs API for an organization (admin key):
 * `const packs = await new CreditPacks({ apiKey }).creditPacks.list()` → `{ success: true, data: [...] }`.
 * `CreditPacks.portal({ token })` is one customer's portal; `CreditPacks.webhooks` verifies deliveries.
 */
export class CreditPacks<Throw extends boolean = false> {
  readonly creditPacks: CreditPacksResource<Throw>;
  readonly plans: PlansResource<Throw>;
  readonly customers: CustomersResource<Throw>;
  readonly subscriptions: SubscriptionsResource<Throw>;
  readonly portalSessions: PortalSessionsResource<Throw>;
  readonly purchases: PurchasesResource<Throw>;

  static readonly webhooks = webhooks;

  /** One customer's portal, with a portal session token (pst_…). */
  static portal<Throw extends boolean = false>(options: PortalClientOptions<Throw>): PortalClient<Throw> {
    return new PortalClient(options);
  }

  constructor(options: ClientOptions<Throw>) {
    const { apiKey, ...rest } = options;
    const transport = new Transport({ token: apiKey, ...rest });
    this.creditPacks = new CreditPacksResource(transport);
    this.plans = new PlansResource(transport);
    this.customers = new CustomersResource(transport);
    this.subscriptions = new SubscriptionsResource(transport);
    this.portalSessions = new PortalSessionsResource(transport);
    this.purchases = new PurchasesResource(transport);
  }
}
