import { pathOf, Resource } from './core.js';
import type {
  AdminPurchase,
  AutoTopUp,
  AutoTopUpParams,
  Balance,
  CreditPack,
  CreditPackCreateParams,
  CreditPackListParams,
  CreditPackUpdateParams,
  Customer,
  CustomerCreateParams,
  CustomerListParams,
  IdempotentRequestOptions,
  Plan,
  PlanCreateParams,
  PortalSession,
  PortalSessionCreateParams,
  PurchaseListParams,
  Refund,
  RefundCreateParams,
  RequestOptions,
  Result,
  Subscription,
  SubscriptionCreateParams,
  SubscriptionListParams,
  SubscriptionUpdateParams,
} from './types.js';

/** The admin routes (organization API key), one class per resource. */

export class CreditPacksResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/credit-packs: the organization's packs (archived ones with `{ archived: true }`). */
  list(params?: CreditPackListParams, options?: RequestOptions): Result<CreditPack[], Throw> {
    return this.call({ method: 'GET', path: '/v1/credit-packs', query: params, retry: 'safe', options });
  }
  /** POST /v1/credit-packs */
  create(params: CreditPackCreateParams, options?: RequestOptions): Result<CreditPack, Throw> {
    return this.call({ method: 'POST', path: '/v1/credit-packs', body: params, retry: 'unsafe', options });
  }
  /** GET /v1/credit-packs/{id} */
  retrieve(id: string, options?: RequestOptions): Result<CreditPack, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/credit-packs/${id}`, retry: 'safe', options });
  }
  /** PATCH /v1/credit-packs/{id}: existing purchases keep what they were bought at. */
  update(id: string, params: CreditPackUpdateParams, options?: RequestOptions): Result<CreditPack, Throw> {
    return this.call({
      method: 'PATCH',
      path: pathOf`/v1/credit-packs/${id}`,
      body: params,
      retry: 'unsafe',
      options,
    });
  }
  /** POST /v1/credit-packs/{id}/archive (idempotent, so retried like a read). */
  archive(id: string, options?: RequestOptions): Result<CreditPack, Throw> {
    return this.call({
      method: 'POST',
      path: pathOf`/v1/credit-packs/${id}/archive`,
      retry: 'safe',
      options,
    });
  }
}

export class PlansResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/plans */
  list(options?: RequestOptions): Result<Plan[], Throw> {
    return this.call({ method: 'GET', path: '/v1/plans', retry: 'safe', options });
  }
  /** POST /v1/plans */
  create(params: PlanCreateParams, options?: RequestOptions): Result<Plan, Throw> {
    return this.call({ method: 'POST', path: '/v1/plans', body: params, retry: 'unsafe', options });
  }
  /** GET /v1/plans/{id} */
  retrieve(id: string, options?: RequestOptions): Result<Plan, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/plans/${id}`, retry: 'safe', options });
  }
}

export class CustomersResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/customers */
  list(params?: CustomerListParams, options?: RequestOptions): Result<Customer[], Throw> {
    return this.call({ method: 'GET', path: '/v1/customers', query: params, retry: 'safe', options });
  }
  /** POST /v1/customers: `stripeCustomerId` links an existing Stripe customer (read at once). */
  create(params: CustomerCreateParams, options?: RequestOptions): Result<Customer, Throw> {
    return this.call({ method: 'POST', path: '/v1/customers', body: params, retry: 'unsafe', options });
  }
  /** GET /v1/customers/{id} */
  retrieve(id: string, options?: RequestOptions): Result<Customer, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/customers/${id}`, retry: 'safe', options });
  }
  /** GET /v1/customers/{id}/balance: `{ planCredits, purchasedCredits, total }`. */
  retrieveBalance(id: string, options?: RequestOptions): Result<Balance, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/customers/${id}/balance`, retry: 'safe', options });
  }
  /** GET /v1/customers/{id}/auto-top-up: the settings, `state` and `pausedReason`. */
  retrieveAutoTopUp(id: string, options?: RequestOptions): Result<AutoTopUp, Throw> {
    return this.call({
      method: 'GET',
      path: pathOf`/v1/customers/${id}/auto-top-up`,
      retry: 'safe',
      options,
    });
  }
  /** PUT /v1/customers/{id}/auto-top-up: saves the settings (resuming a pause); idempotent. */
  updateAutoTopUp(id: string, params: AutoTopUpParams, options?: RequestOptions): Result<AutoTopUp, Throw> {
    return this.call({
      method: 'PUT',
      path: pathOf`/v1/customers/${id}/auto-top-up`,
      body: params,
      retry: 'safe',
      options,
    });
  }
}

export class SubscriptionsResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/subscriptions */
  list(params?: SubscriptionListParams, options?: RequestOptions): Result<Subscription[], Throw> {
    return this.call({ method: 'GET', path: '/v1/subscriptions', query: params, retry: 'safe', options });
  }
  /** POST /v1/subscriptions: at most one live subscription per customer. */
  create(params: SubscriptionCreateParams, options?: RequestOptions): Result<Subscription, Throw> {
    return this.call({ method: 'POST', path: '/v1/subscriptions', body: params, retry: 'unsafe', options });
  }
  /** GET /v1/subscriptions/{id} */
  retrieve(id: string, options?: RequestOptions): Result<Subscription, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/subscriptions/${id}`, retry: 'safe', options });
  }
  /** PATCH /v1/subscriptions/{id}: `status` and/or `planId`. */
  update(
    id: string,
    params: SubscriptionUpdateParams,
    options?: RequestOptions,
  ): Result<Subscription, Throw> {
    return this.call({
      method: 'PATCH',
      path: pathOf`/v1/subscriptions/${id}`,
      body: params,
      retry: 'unsafe',
      options,
    });
  }
}

export class PortalSessionsResource<Throw extends boolean> extends Resource<Throw> {
  /** POST /v1/portal-sessions: `{ token, expiresAt, url }` for `CreditPacks.portal({ token })`. */
  create(params: PortalSessionCreateParams, options?: RequestOptions): Result<PortalSession, Throw> {
    return this.call({ method: 'POST', path: '/v1/portal-sessions', body: params, retry: 'unsafe', options });
  }
}

export class PurchaseRefundsResource<Throw extends boolean> extends Resource<Throw> {
  /**
   * POST /v1/purchases/{id}/refunds: refunds a completed purchase in full (no `amount`) or in part;
   * answers 202 with the refund, `pending` until Stripe answers. Sends `options.idempotencyKey`, or a
   * new random key per call; the SDK's retries reuse it, so a retried refund is one refund.
   */
  create(
    purchaseId: string,
    params: RefundCreateParams = {},
    options?: IdempotentRequestOptions,
  ): Result<Refund, Throw> {
    return this.call({
      method: 'POST',
      path: pathOf`/v1/purchases/${purchaseId}/refunds`,
      body: params,
      retry: 'keyed',
      options,
    });
  }
  /** GET /v1/purchases/{id}/refunds: oldest first, refunds made in Stripe directly included. */
  list(purchaseId: string, options?: RequestOptions): Result<Refund[], Throw> {
    return this.call({
      method: 'GET',
      path: pathOf`/v1/purchases/${purchaseId}/refunds`,
      retry: 'safe',
      options,
    });
  }
}

export class PurchasesResource<Throw extends boolean> extends Resource<Throw> {
  /** `client.purchases.refunds.create(purchaseId, { amount?, reason? })` and `.list(purchaseId)`. */
  readonly refunds = new PurchaseRefundsResource<Throw>(this.transport);

  /** GET /v1/purchases: newest first. */
  list(params?: PurchaseListParams, options?: RequestOptions): Result<AdminPurchase[], Throw> {
    return this.call({ method: 'GET', path: '/v1/purchases', query: params, retry: 'safe', options });
  }
  /** GET /v1/purchases/{id} */
  retrieve(id: string, options?: RequestOptions): Result<AdminPurchase, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/purchases/${id}`, retry: 'safe', options });
  }
  /** POST /v1/purchases/{id}/cancel: a purchase still waiting (for a card, 3-D Secure, its start). */
  cancel(id: string, options?: RequestOptions): Result<AdminPurchase, Throw> {
    return this.call({ method: 'POST', path: pathOf`/v1/purchases/${id}/cancel`, retry: 'unsafe', options });
  }
}
