import { pathOf, Resource, Transport } from './core.js';
import type {
  AutoTopUp,
  AutoTopUpParams,
  IdempotentRequestOptions,
  PaymentMethodRefreshParams,
  PaymentMethodReplacement,
  PortalBalance,
  PortalCreditPack,
  PortalMe,
  PortalPaymentMethod,
  PortalPurchaseListParams,
  PortalSettings,
  Purchase,
  PurchaseCreateParams,
  RequestOptions,
  Result,
  TestCard,
  TestModeAuthenticateParams,
  TestModeConfirmParams,
  TestModeStep,
} from './types.js';

/** The customer portal routes (portal session token, pst_…): what one customer sees and buys. */

export class PortalCreditPacksResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/credit-packs: the packs this customer can buy, cheapest first. */
  list(options?: RequestOptions): Result<PortalCreditPack[], Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/credit-packs', retry: 'safe', options });
  }
}

export class PortalBalanceResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/balance: `{ planCredits, purchasedCredits, total }`. */
  retrieve(options?: RequestOptions): Result<PortalBalance, Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/balance', retry: 'safe', options });
  }
}

export class PortalMeResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/me: the customer, their subscription, the card on file and whether they may buy. */
  retrieve(options?: RequestOptions): Result<PortalMe, Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/me', retry: 'safe', options });
  }
}

export class PortalSettingsResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/settings: `testMode`, `stripePublishableKey`, `maxQuantity`. */
  retrieve(options?: RequestOptions): Result<PortalSettings, Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/settings', retry: 'safe', options });
  }
}

export class PortalPurchasesResource<Throw extends boolean> extends Resource<Throw> {
  /**
   * POST /v1/portal/purchases (checkout). Sends `options.idempotencyKey`, or a new random key per call;
   * the SDK's retries reuse it, so a retried checkout is the same purchase, charged once.
   */
  create(params: PurchaseCreateParams, options?: IdempotentRequestOptions): Result<Purchase, Throw> {
    return this.call({ method: 'POST', path: '/v1/portal/purchases', body: params, retry: 'keyed', options });
  }
  /** GET /v1/portal/purchases/{id} */
  retrieve(id: string, options?: RequestOptions): Result<Purchase, Throw> {
    return this.call({ method: 'GET', path: pathOf`/v1/portal/purchases/${id}`, retry: 'safe', options });
  }
  /** GET /v1/portal/purchases: newest first. */
  list(params?: PortalPurchaseListParams, options?: RequestOptions): Result<Purchase[], Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/purchases', query: params, retry: 'safe', options });
  }
  /** POST /v1/portal/purchases/{id}/cancel: while pending, awaiting a card or 3-D Secure. */
  cancel(id: string, options?: RequestOptions): Result<Purchase, Throw> {
    return this.call({
      method: 'POST',
      path: pathOf`/v1/portal/purchases/${id}/cancel`,
      retry: 'unsafe',
      options,
    });
  }
}

export class PortalAutoTopUpResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/auto-top-up: the settings, `state` (active, paused, off) and `pausedReason`. */
  retrieve(options?: RequestOptions): Result<AutoTopUp, Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/auto-top-up', retry: 'safe', options });
  }
  /**
   * PUT /v1/portal/auto-top-up: saves the settings (resuming a pause); a total already below the
   * threshold starts a top-up. Idempotent: the same settings again change nothing more.
   */
  update(params: AutoTopUpParams, options?: RequestOptions): Result<AutoTopUp, Throw> {
    return this.call({ method: 'PUT', path: '/v1/portal/auto-top-up', body: params, retry: 'safe', options });
  }
}

export class PortalPaymentMethodResource<Throw extends boolean> extends Resource<Throw> {
  /** GET /v1/portal/payment-method: the card a purchase charges now, or null. */
  retrieve(options?: RequestOptions): Result<PortalPaymentMethod, Throw> {
    return this.call({ method: 'GET', path: '/v1/portal/payment-method', retry: 'safe', options });
  }
  /**
   * POST /v1/portal/payment-method: `{ clientSecret }` of a SetupIntent; confirm it with Stripe.js (test
   * mode: `testMode.setupIntents.confirm`), then `refresh`. Nothing changes until it succeeded.
   */
  replace(options?: RequestOptions): Result<PaymentMethodReplacement, Throw> {
    return this.call({ method: 'POST', path: '/v1/portal/payment-method', retry: 'unsafe', options });
  }
  /**
   * POST /v1/portal/payment-method/refresh: tells the portal the SetupIntent succeeded (it is re-read from
   * Stripe); answers the card on file. 409 setup_intent_not_succeeded while it has not.
   */
  refresh(params: PaymentMethodRefreshParams, options?: RequestOptions): Result<PortalPaymentMethod, Throw> {
    return this.call({
      method: 'POST',
      path: '/v1/portal/payment-method/refresh',
      body: params,
      retry: 'safe',
      options,
    });
  }
}

/** Test mode (the Stripe emulator only; with a real Stripe key these routes answer 404). */
export class PortalTestModeResource<Throw extends boolean> extends Resource<Throw> {
  readonly cards = {
    /** GET /v1/portal/test-mode/cards */
    list: (options?: RequestOptions): Result<TestCard[], Throw> =>
      this.call({ method: 'GET', path: '/v1/portal/test-mode/cards', retry: 'safe', options }),
  };
  readonly setupIntents = {
    /** POST /v1/portal/test-mode/setup-intents/{seti_…}/confirm: add a test card to the purchase's SetupIntent. */
    confirm: (
      id: string,
      params: TestModeConfirmParams,
      options?: RequestOptions,
    ): Result<TestModeStep, Throw> =>
      this.call({
        method: 'POST',
        path: pathOf`/v1/portal/test-mode/setup-intents/${id}/confirm`,
        body: params,
        retry: 'unsafe',
        options,
      }),
    /** POST /v1/portal/test-mode/setup-intents/{seti_…}/authenticate */
    authenticate: (
      id: string,
      params: TestModeAuthenticateParams,
      options?: RequestOptions,
    ): Result<TestModeStep, Throw> =>
      this.call({
        method: 'POST',
        path: pathOf`/v1/portal/test-mode/setup-intents/${id}/authenticate`,
        body: params,
        retry: 'unsafe',
        options,
      }),
  };
  readonly paymentIntents = {
    /** POST /v1/portal/test-mode/payment-intents/{pi_…}/authenticate */
    authenticate: (
      id: string,
      params: TestModeAuthenticateParams,
      options?: RequestOptions,
    ): Result<TestModeStep, Throw> =>
      this.call({
        method: 'POST',
        path: pathOf`/v1/portal/test-mode/payment-intents/${id}/authenticate`,
        body: params,
        retry: 'unsafe',
        options,
      }),
  };
}

export interface PortalClientOptions<Throw extends boolean = false> {
  /** a portal session token (pst_…), from `client.portalSessions.create({ customerId })` */
  token: string;
  /** the portal server, default http://127.0.0.1:3000 (what `npm start` runs) */
  baseUrl?: string;
  /** per attempt, default 30 000 ms */
  timeoutMs?: number;
  /** retries of a call that may be retried, default 2 */
  maxRetries?: number;
  /** throw a CreditPacksError instead of resolving to `{ success: false, error }` */
  throwOnError?: Throw;
}

/** One customer's portal: `CreditPacks.portal({ token })`. */
export class PortalClient<Throw extends boolean = false> {
  readonly creditPacks: PortalCreditPacksResource<Throw>;
  readonly balance: PortalBalanceResource<Throw>;
  readonly me: PortalMeResource<Throw>;
  readonly settings: PortalSettingsResource<Throw>;
  readonly purchases: PortalPurchasesResource<Throw>;
  readonly paymentMethod: PortalPaymentMethodResource<Throw>;
  readonly autoTopUp: PortalAutoTopUpResource<Throw>;
  readonly testMode: PortalTestModeResource<Throw>;

  constructor(options: PortalClientOptions<Throw>) {
    const { token, ...rest } = options;
    const transport = new Transport({ token, ...rest });
    this.creditPacks = new PortalCreditPacksResource(transport);
    this.balance = new PortalBalanceResource(transport);
    this.me = new PortalMeResource(transport);
    this.settings = new PortalSettingsResource(transport);
    this.purchases = new PortalPurchasesResource(transport);
    this.paymentMethod = new PortalPaymentMethodResource(transport);
    this.autoTopUp = new PortalAutoTopUpResource(transport);
    this.testMode = new PortalTestModeResource(transport);
  }
}
