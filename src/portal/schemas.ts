import { type TSchema, Type } from 'typebox';
import { consumptionModels, subscriptionStatuses } from '../domain/catalog';
import { purchaseStatuses } from '../domain/purchase-states';

/**
 * TypeBox schemas: the same objects validate requests (TypeBox's compiler) and generate /openapi.json.
 * Every object schema is closed (additionalProperties: false) so unknown fields are refused, not ignored.
 */

const closed = { additionalProperties: false } as const;

export const idPattern = (prefix: string) => `^${prefix}_[A-Za-z0-9]{8,64}$`;
export const Id = (prefix: string, description?: string) =>
  Type.String({ pattern: idPattern(prefix), maxLength: 69, ...(description ? { description } : {}) });

const NonBlank = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
const DateTime = Type.String({ format: 'date-time' });
const Cents = Type.Integer({
  minimum: 1,
  maximum: 100_000_000,
  description: 'amount in cents (1000 = $10.00)',
});
const Credits = Type.Integer({ minimum: 1, maximum: 100_000_000 });
export const Limit = Type.Integer({ minimum: 1, maximum: 500, description: 'page size (default 100)' });

// ------------------------------------------------------------------ envelopes

export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  },
  { $id: 'ErrorEnvelope' },
);

export const ok = <T extends TSchema>(data: T) => Type.Object({ success: Type.Literal(true), data });

/** Response map for a route: its success shape plus the error envelope on 4xx/5xx. */
export function responses<T extends TSchema>(status: 200 | 201 | 202, data: T) {
  return {
    [status]: ok(data),
    '4xx': Type.Ref('ErrorEnvelope'),
    '5xx': Type.Ref('ErrorEnvelope'),
  };
}

// ------------------------------------------------------------------ organizations

export const CreateOrganizationBody = Type.Object({ name: NonBlank(200) }, closed);
export const Organization = Type.Object({ id: Id('org'), name: Type.String(), createdAt: DateTime });
export const CreatedOrganization = Type.Object({
  organization: Organization,
  apiKey: Type.String({ description: 'the organization API key; shown this once, stored hashed' }),
});

// ------------------------------------------------------------------ plans

export const ConsumptionModel = Type.Enum(consumptionModels);
export const CreatePlanBody = Type.Object(
  {
    name: NonBlank(200),
    consumptionModel: ConsumptionModel,
    isFree: Type.Optional(Type.Boolean({ default: false })),
    includedCredits: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0 })),
  },
  closed,
);
export const Plan = Type.Object({
  id: Id('pln'),
  name: Type.String(),
  consumptionModel: ConsumptionModel,
  isFree: Type.Boolean(),
  includedCredits: Type.Integer(),
  createdAt: DateTime,
});

// ------------------------------------------------------------------ customers

export const CreateCustomerBody = Type.Object(
  {
    email: Type.String({ format: 'email', minLength: 3, maxLength: 320 }),
    name: NonBlank(200),
    stripeCustomerId: Type.Optional(
      Type.String({
        pattern: '^cus_[A-Za-z0-9_]+$',
        maxLength: 255,
        description: 'an existing Stripe customer',
      }),
    ),
    defaultPaymentMethodId: Type.Optional(
      Type.String({
        pattern: '^pm_[A-Za-z0-9_]+$',
        maxLength: 255,
        description: "the Stripe customer's default payment method (card on file), when already known",
      }),
    ),
  },
  closed,
);
export const Customer = Type.Object({
  id: Id('cus'),
  email: Type.String(),
  name: Type.String(),
  stripeCustomerId: Type.Union([Type.String(), Type.Null()]),
  defaultPaymentMethodId: Type.Union([Type.String(), Type.Null()]),
  hasPaymentMethod: Type.Boolean(),
  createdAt: DateTime,
  updatedAt: DateTime,
});

// ------------------------------------------------------------------ subscriptions

export const SubscriptionStatus = Type.Enum(subscriptionStatuses);
export const CreateSubscriptionBody = Type.Object(
  {
    customerId: Id('cus'),
    planId: Id('pln'),
    status: Type.Optional(SubscriptionStatus),
  },
  closed,
);
export const UpdateSubscriptionBody = Type.Object(
  { status: Type.Optional(SubscriptionStatus), planId: Type.Optional(Id('pln')) },
  { ...closed, minProperties: 1 },
);
export const Subscription = Type.Object({
  id: Id('sub'),
  customerId: Id('cus'),
  planId: Id('pln'),
  status: SubscriptionStatus,
  createdAt: DateTime,
  updatedAt: DateTime,
});
export const SubscriptionQuery = Type.Object(
  {
    customerId: Type.Optional(Id('cus')),
    status: Type.Optional(SubscriptionStatus),
    limit: Type.Optional(Limit),
  },
  closed,
);

// ------------------------------------------------------------------ credit packs

export const Visibility = Type.Union([
  Type.Object({ type: Type.Literal('all_credits_plans') }, closed),
  Type.Object(
    {
      type: Type.Literal('plans'),
      planIds: Type.Array(Id('pln'), { minItems: 1, maxItems: 100, uniqueItems: true }),
    },
    closed,
  ),
]);
const PackName = NonBlank(100);
const PackDescription = Type.String({ maxLength: 1000 });

export const CreateCreditPackBody = Type.Object(
  {
    name: PackName,
    description: Type.Optional(Type.Union([PackDescription, Type.Null()])),
    credits: Credits,
    price: Cents,
    currency: Type.Optional(Type.Literal('usd')),
    visibility: Type.Optional(Visibility),
  },
  closed,
);
export const UpdateCreditPackBody = Type.Object(
  {
    name: Type.Optional(PackName),
    description: Type.Optional(Type.Union([PackDescription, Type.Null()])),
    credits: Type.Optional(Credits),
    price: Type.Optional(Cents),
    currency: Type.Optional(Type.Literal('usd')),
    visibility: Type.Optional(Visibility),
  },
  { ...closed, minProperties: 1 },
);
export const CreditPack = Type.Object({
  id: Id('cpk'),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  credits: Type.Integer(),
  price: Type.Integer({ description: 'in cents' }),
  currency: Type.Literal('usd'),
  visibility: Visibility,
  archived: Type.Boolean(),
  archivedAt: Type.Union([DateTime, Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export const CreditPackQuery = Type.Object({ archived: Type.Optional(Type.Boolean()) }, closed);

/** The seed's list item, exactly: { id, name, description, credits, price, currency }. */
export const PortalCreditPack = Type.Object({
  id: Id('cpk'),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  credits: Type.Integer(),
  price: Type.Integer({ description: 'in cents (1000 = $10.00)' }),
  currency: Type.Literal('usd'),
});

// ------------------------------------------------------------------ portal sessions

export const CreatePortalSessionBody = Type.Object({ customerId: Id('cus') }, closed);
export const PortalSession = Type.Object({
  id: Id('pss', 'the session, revocable with POST /v1/portal-sessions/{id}/revoke'),
  token: Type.String(),
  expiresAt: DateTime,
  url: Type.String({ description: 'the customer portal, with the token in the URL fragment' }),
});

// ------------------------------------------------------------------ purchases and balance

export const PurchaseStatus = Type.Enum(purchaseStatuses);
const purchaseFields = {
  id: Id('pur'),
  status: PurchaseStatus,
  creditPackId: Id('cpk'),
  quantity: Type.Integer(),
  credits: Type.Integer({ description: 'total credits (quantity x pack credits)' }),
  price: Type.Integer({ description: 'total price in cents' }),
  currency: Type.Literal('usd'),
  nextAction: Type.Union([
    Type.Object({
      type: Type.Union([Type.Literal('add_payment_method'), Type.Literal('authenticate')]),
      clientSecret: Type.String(),
    }),
    Type.Null(),
  ]),
  failure: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  trigger: Type.Union([Type.Literal('portal'), Type.Literal('auto_top_up'), Type.Literal('admin')], {
    description: 'what started it: the customer portal, an auto top-up, or the operators command line',
  }),
  refundedAmount: Type.Integer({
    description: "cents: the sum of the purchase's pending and succeeded refunds, whoever made them",
  }),
  creditsReversed: Type.Integer({ description: 'credits taken back for refunds and disputes' }),
  dispute: Type.Union([
    Type.Object({
      status: Type.Union([Type.Literal('open'), Type.Literal('won'), Type.Literal('lost')]),
      amount: Type.Integer({ description: 'disputed cents' }),
    }),
    Type.Null(),
  ]),
  createdAt: DateTime,
  updatedAt: DateTime,
};
export const Purchase = Type.Object(purchaseFields);

export const RefundStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
]);
export const RefundReason = Type.Union([
  Type.Literal('requested_by_customer'),
  Type.Literal('duplicate'),
  Type.Literal('fraudulent'),
]);
export const Refund = Type.Object({
  id: Id('ref'),
  purchaseId: Id('pur'),
  amount: Type.Integer({ description: 'cents' }),
  creditsReversed: Type.Integer({ description: "the increase of the purchase's reversed credits" }),
  reason: Type.Union([RefundReason, Type.Null()]),
  status: RefundStatus,
  createdAt: DateTime,
});
export const CreateRefundBody = Type.Object(
  {
    amount: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000_000,
        description: 'cents; defaults to what is left (price − refundedAmount)',
      }),
    ),
    reason: Type.Optional(Type.Union([RefundReason, Type.Null()])),
  },
  closed,
);
export const AdminPurchase = Type.Object({ ...purchaseFields, customerId: Id('cus') });
export const AdminPurchaseQuery = Type.Object(
  {
    customerId: Type.Optional(Id('cus')),
    status: Type.Optional(PurchaseStatus),
    limit: Type.Optional(Limit),
  },
  closed,
);
export const PortalPurchaseQuery = Type.Object(
  { status: Type.Optional(PurchaseStatus), limit: Type.Optional(Limit) },
  closed,
);

export const Balance = Type.Object({
  planCredits: Type.Integer({ description: 'plan-included credits left this period' }),
  purchasedCredits: Type.Integer({ description: 'purchased credits (never expire)' }),
  total: Type.Integer(),
});

export const UsageBody = Type.Object(
  {
    credits: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description: 'credits to use: plan credits first, then purchased ones',
    }),
  },
  closed,
);

export const PortalMe = Type.Object({
  customer: Type.Object({ id: Id('cus'), name: Type.String(), email: Type.String() }),
  subscription: Type.Union([
    Type.Object({ id: Id('sub'), status: SubscriptionStatus, planId: Id('pln'), planName: Type.String() }),
    Type.Null(),
  ]),
  hasPaymentMethod: Type.Boolean(),
  /** whether the customer may buy packs right now, and if not, why */
  canPurchase: Type.Object({
    ok: Type.Boolean(),
    code: Type.Union([Type.String(), Type.Null()]),
    message: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const IdParams = (prefix: string) => Type.Object({ id: Id(prefix) }, closed);
export const NoQuery = Type.Object({}, closed);
