import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type Stripe from 'stripe';
import { Type } from 'typebox';
import { issuePortalToken, portalLink } from '../../auth/portal-tokens';
import { safeEqual } from '../../auth/secrets';
import {
  createCustomer,
  createOrganization,
  createPlan,
  createSubscription,
  getCustomer,
  getPlan,
  getSubscription,
  listCustomers,
  listPlans,
  listSubscriptions,
  updateSubscription,
} from '../../db/billing';
import { createPortalSession, organizationOfApiKey } from '../../db/credentials';
import {
  archiveCreditPack,
  createCreditPack,
  getCreditPack,
  listCreditPacks,
  updateCreditPack,
} from '../../db/credit-packs';
import { API_KEY_PREFIX } from '../../db/ids';
import { getBalance } from '../../db/ledger';
import { getCustomerPurchase, listPurchases, toAdminPurchase } from '../../db/purchases';
import { AppError } from '../../domain/errors';
import { cancelPurchase } from '../../purchases';
import { defaultPaymentMethodOf } from '../../stripe/customers';
import { classifyStripeError } from '../../stripe/errors';
import { bearerToken } from '../auth';
import { envelope, orgOf, type RouteDeps } from '../context';
import * as S from '../schemas';
import { adminAutoTopUpRoutes } from './auto-top-up';
import { credentialRoutes } from './credentials';
import { creditRoutes } from './credits';
import { eventRoutes } from './events';
import { adminReceiptRoutes } from './receipts';
import { refundRoutes } from './refunds';

const adminSecurity = [{ organizationApiKey: [] }];

/** POST /v1/organizations: the platform operator's one route. */
export const platformRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { config, sql }) => {
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    if (!safeEqual(token, config.PLATFORM_ADMIN_TOKEN))
      throw new AppError('unauthorized', 'Invalid platform token.');
  });

  app.post(
    '/v1/organizations',
    {
      schema: {
        tags: ['platform'],
        summary: 'Create an organization (returns its API key once)',
        security: [{ platformToken: [] }],
        body: S.CreateOrganizationBody,
        response: S.responses(201, S.CreatedOrganization),
      },
    },
    async (request, reply) => {
      const created = await createOrganization(sql, { name: request.body.name.trim() });
      return reply.status(201).send(envelope(created));
    },
  );
};

/** Admin routes, authenticated by an organization API key and scoped to that organization. */
export const adminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { config, sql, stripe, temporal, purchaseChanges } = deps;
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    // The current key, or one rotated out within its grace period (src/db/credentials.ts).
    const org = token.startsWith(API_KEY_PREFIX) ? await organizationOfApiKey(sql, token) : null;
    if (!org) throw new AppError('unauthorized', 'Invalid API key.');
    request.organizationId = org.id;
  });

  // ---------------------------------------------------------------- credit packs
  app.post(
    '/v1/credit-packs',
    {
      schema: {
        tags: ['credit packs'],
        summary: 'Create a credit pack',
        security: adminSecurity,
        body: S.CreateCreditPackBody,
        response: S.responses(201, S.CreditPack),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const pack = await createCreditPack(sql, orgOf(request), {
        name: b.name.trim(),
        description: b.description ?? null,
        credits: b.credits,
        price: b.price,
        visibility: b.visibility ?? { type: 'all_credits_plans' },
      });
      return reply.status(201).send(envelope(pack));
    },
  );

  app.get(
    '/v1/credit-packs',
    {
      schema: {
        tags: ['credit packs'],
        summary: 'List credit packs (archived included unless filtered)',
        security: adminSecurity,
        querystring: S.CreditPackQuery,
        response: S.responses(200, Type.Array(S.CreditPack)),
      },
    },
    async (request) =>
      envelope(await listCreditPacks(sql, orgOf(request), { archived: request.query.archived })),
  );

  app.get(
    '/v1/credit-packs/:id',
    {
      schema: {
        tags: ['credit packs'],
        summary: 'Get a credit pack',
        security: adminSecurity,
        params: S.IdParams('cpk'),
        response: S.responses(200, S.CreditPack),
      },
    },
    async (request) => envelope(await getCreditPack(sql, orgOf(request), request.params.id)),
  );

  app.patch(
    '/v1/credit-packs/:id',
    {
      schema: {
        tags: ['credit packs'],
        summary: 'Update a credit pack (existing purchases keep their snapshot)',
        security: adminSecurity,
        params: S.IdParams('cpk'),
        body: S.UpdateCreditPackBody,
        response: S.responses(200, S.CreditPack),
      },
    },
    async (request) => {
      const b = request.body;
      return envelope(
        await updateCreditPack(sql, orgOf(request), request.params.id, {
          name: b.name?.trim(),
          description: b.description,
          credits: b.credits,
          price: b.price,
          visibility: b.visibility,
        }),
      );
    },
  );

  app.post(
    '/v1/credit-packs/:id/archive',
    {
      schema: {
        tags: ['credit packs'],
        summary: 'Archive a credit pack (idempotent; no new purchases, history kept)',
        security: adminSecurity,
        params: S.IdParams('cpk'),
        response: S.responses(200, S.CreditPack),
      },
    },
    async (request) => envelope(await archiveCreditPack(sql, orgOf(request), request.params.id)),
  );

  // ---------------------------------------------------------------- plans
  app.post(
    '/v1/plans',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Create a plan',
        security: adminSecurity,
        body: S.CreatePlanBody,
        response: S.responses(201, S.Plan),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const plan = await createPlan(sql, orgOf(request), {
        name: b.name.trim(),
        consumptionModel: b.consumptionModel,
        isFree: b.isFree ?? false,
        includedCredits: b.includedCredits ?? 0,
      });
      return reply.status(201).send(envelope(plan));
    },
  );

  app.get(
    '/v1/plans',
    {
      schema: {
        tags: ['billing data'],
        summary: 'List plans',
        security: adminSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, Type.Array(S.Plan)),
      },
    },
    async (request) => envelope(await listPlans(sql, orgOf(request))),
  );

  app.get(
    '/v1/plans/:id',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Get a plan',
        security: adminSecurity,
        params: S.IdParams('pln'),
        response: S.responses(200, S.Plan),
      },
    },
    async (request) => envelope(await getPlan(sql, orgOf(request), request.params.id)),
  );

  // ---------------------------------------------------------------- customers
  app.post(
    '/v1/customers',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Create a customer (optionally linked to an existing Stripe customer)',
        description:
          "With stripeCustomerId, that Stripe customer is read at once and linked only if its email or metadata.customer_email equals the customer's email (ignoring case), its metadata.organization_id (when set) is this organization, and no customer of any organization is linked to it yet; its default payment method (invoice_settings.default_payment_method) is then the card on file (hasPaymentMethod), else defaultPaymentMethodId when given. Otherwise (also unknown to Stripe, or deleted) 422 stripe_customer_not_found, one answer for every case; Stripe unreachable answers 503 service_unavailable; either way nothing is created.",
        security: adminSecurity,
        body: S.CreateCustomerBody,
        response: S.responses(201, S.Customer),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const organizationId = orgOf(request);
      // A linked Stripe customer's default card is the card on file (docs/api.md): read it now, so
      // hasPaymentMethod is right from the start. Purchases read it again from Stripe (it can change).
      const stripeDefaultCard = b.stripeCustomerId
        ? await linkableStripeCustomerCard(
            stripe,
            { stripeCustomerId: b.stripeCustomerId, email: b.email, organizationId },
            request.log,
          )
        : null;
      try {
        const customer = await createCustomer(sql, organizationId, {
          email: b.email,
          name: b.name.trim(),
          stripeCustomerId: b.stripeCustomerId ?? null,
          defaultPaymentMethodId: stripeDefaultCard ?? b.defaultPaymentMethodId ?? null,
        });
        return reply.status(201).send(envelope(customer));
      } catch (error) {
        // Linked already (in any organization): the same answer as a Stripe customer that does not
        // match, so an organization never learns that another one linked it (docs/security.md).
        if (error instanceof AppError && error.code === 'stripe_customer_taken' && b.stripeCustomerId) {
          throw notLinkable(b.stripeCustomerId);
        }
        throw error;
      }
    },
  );

  app.get(
    '/v1/customers',
    {
      schema: {
        tags: ['billing data'],
        summary: 'List customers',
        security: adminSecurity,
        querystring: Type.Object({ limit: Type.Optional(S.Limit) }, { additionalProperties: false }),
        response: S.responses(200, Type.Array(S.Customer)),
      },
    },
    async (request) => envelope(await listCustomers(sql, orgOf(request), request.query.limit ?? 100)),
  );

  app.get(
    '/v1/customers/:id',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Get a customer',
        security: adminSecurity,
        params: S.IdParams('cus'),
        response: S.responses(200, S.Customer),
      },
    },
    async (request) => envelope(await getCustomer(sql, orgOf(request), request.params.id)),
  );

  app.get(
    '/v1/customers/:id/balance',
    {
      schema: {
        tags: ['billing data'],
        summary: "A customer's credit balance (plan and purchased credits apart)",
        security: adminSecurity,
        params: S.IdParams('cus'),
        response: S.responses(200, S.Balance),
      },
    },
    async (request) => {
      const organizationId = orgOf(request);
      await getCustomer(sql, organizationId, request.params.id);
      return envelope(await getBalance(sql, { organizationId, customerId: request.params.id }));
    },
  );

  // ---------------------------------------------------------------- subscriptions
  app.post(
    '/v1/subscriptions',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Create a subscription (status defaults to active)',
        security: adminSecurity,
        body: S.CreateSubscriptionBody,
        response: S.responses(201, S.Subscription),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const subscription = await createSubscription(sql, orgOf(request), {
        customerId: b.customerId,
        planId: b.planId,
        status: b.status ?? 'active',
      });
      return reply.status(201).send(envelope(subscription));
    },
  );

  app.get(
    '/v1/subscriptions',
    {
      schema: {
        tags: ['billing data'],
        summary: 'List subscriptions',
        security: adminSecurity,
        querystring: S.SubscriptionQuery,
        response: S.responses(200, Type.Array(S.Subscription)),
      },
    },
    async (request) => envelope(await listSubscriptions(sql, orgOf(request), request.query)),
  );

  app.get(
    '/v1/subscriptions/:id',
    {
      schema: {
        tags: ['billing data'],
        summary: 'Get a subscription',
        security: adminSecurity,
        params: S.IdParams('sub'),
        response: S.responses(200, S.Subscription),
      },
    },
    async (request) => envelope(await getSubscription(sql, orgOf(request), request.params.id)),
  );

  app.patch(
    '/v1/subscriptions/:id',
    {
      schema: {
        tags: ['billing data'],
        summary: "Change a subscription's status or plan",
        security: adminSecurity,
        params: S.IdParams('sub'),
        body: S.UpdateSubscriptionBody,
        response: S.responses(200, S.Subscription),
      },
    },
    async (request) =>
      envelope(await updateSubscription(sql, orgOf(request), request.params.id, request.body)),
  );

  // ---------------------------------------------------------------- portal sessions
  app.post(
    '/v1/portal-sessions',
    {
      schema: {
        tags: ['portal sessions'],
        summary: 'Create a short-lived portal session for one customer',
        security: adminSecurity,
        body: S.CreatePortalSessionBody,
        response: S.responses(201, S.PortalSession),
      },
    },
    async (request, reply) => {
      const organizationId = orgOf(request);
      const customer = await getCustomer(sql, organizationId, request.body.customerId);
      // A recorded session (revocable: POST /v1/portal-sessions/{id}/revoke) named by its token.
      // Whole seconds, as in the token, so the row, the token and the answer name the same expiry.
      const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      const expiresAt = new Date(issuedAt.getTime() + config.PORTAL_SESSION_TTL_SECONDS * 1000);
      const session = await createPortalSession(sql, { organizationId, customerId: customer.id }, expiresAt);
      const { token } = issuePortalToken(
        config.PORTAL_SESSION_SECRET,
        { organizationId, customerId: customer.id, sessionId: session.id },
        config.PORTAL_SESSION_TTL_SECONDS,
        issuedAt,
      );
      return reply.status(201).send(
        envelope({
          id: session.id,
          token,
          expiresAt: expiresAt.toISOString(),
          url: portalLink(config.portalUrl, token),
        }),
      );
    },
  );

  // ---------------------------------------------------------------- purchases
  app.get(
    '/v1/purchases',
    {
      schema: {
        tags: ['purchases'],
        summary: 'Purchases of the organization, newest first',
        security: adminSecurity,
        querystring: S.AdminPurchaseQuery,
        response: S.responses(200, Type.Array(S.AdminPurchase)),
      },
    },
    async (request) =>
      envelope((await listPurchases(sql, orgOf(request), request.query)).map(toAdminPurchase)),
  );

  app.get(
    '/v1/purchases/:id',
    {
      schema: {
        tags: ['purchases'],
        summary: 'Get a purchase',
        security: adminSecurity,
        params: S.IdParams('pur'),
        response: S.responses(200, S.AdminPurchase),
      },
    },
    async (request) =>
      envelope(
        toAdminPurchase(
          await getCustomerPurchase(sql, { organizationId: orgOf(request), purchaseId: request.params.id }),
        ),
      ),
  );
  // Refunds: POST/GET /v1/purchases/{id}/refunds, behind this plugin's API key check.
  await app.register(refundRoutes, deps);
  await app.register(credentialRoutes, deps);
  // Plan credits and usage: POST /v1/subscriptions/{id}/renew, /v1/customers/{id}/usage (same check).
  await app.register(creditRoutes, deps);
  // Events and webhook endpoints: GET /v1/events, /v1/webhook-endpoints (same check).
  await app.register(eventRoutes, deps);
  // Receipts: GET /v1/purchases/{id}/receipt (same check).
  await app.register(adminReceiptRoutes, deps);
  // Auto top-up: GET/PUT /v1/customers/{id}/auto-top-up (same check).
  await app.register(adminAutoTopUpRoutes, deps);

  app.post(
    '/v1/purchases/:id/cancel',
    {
      schema: {
        tags: ['purchases'],
        summary: 'Cancel a purchase that is still waiting (operator); answers the settled purchase',
        description:
          'Same rule as the customer portal: only while pending, waiting for a card or for 3-D Secure; 409 purchase_not_cancelable otherwise. The failure message records that an operator canceled it.',
        security: adminSecurity,
        params: S.IdParams('pur'),
        response: S.responses(200, S.AdminPurchase),
      },
    },
    async (request) => {
      const row = await getCustomerPurchase(sql, {
        organizationId: orgOf(request),
        purchaseId: request.params.id,
      });
      request.log.info({ purchaseId: row.id }, 'cancel requested by an operator');
      return envelope(
        toAdminPurchase(await cancelPurchase({ sql, temporal, purchaseChanges }, row, 'operator')),
      );
    },
  );
};

const notLinkable = (stripeCustomerId: string) =>
  new AppError(
    'stripe_customer_not_found',
    `Stripe customer ${stripeCustomerId} cannot be linked: it must exist, carry this customer's email (email or metadata.customer_email), belong to no other organization (metadata.organization_id) and be linked to no customer yet.`,
  );

const sameEmail = (a: unknown, b: string) =>
  typeof a === 'string' && a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * The default payment method (`invoice_settings.default_payment_method`) of an existing Stripe customer
 * about to be linked, or null when it has none. The Stripe customer must be the same person: its email or
 * `metadata.customer_email` equals the new customer's email (ignoring case), and its
 * `metadata.organization_id`, when set (the product sets it on the Stripe customers it creates), is
 * this organization. Unknown to Stripe, deleted, or not matching: 422 stripe_customer_not_found, one
 * answer for all (docs/security.md). Stripe unreachable or failing: 503 service_unavailable. Either way
 * nothing is created. (Linked already is refused by the insert's unique link, mapped by the route.)
 */
async function linkableStripeCustomerCard(
  stripe: Stripe,
  link: { stripeCustomerId: string; email: string; organizationId: string },
  log: { warn: (obj: object, msg: string) => void },
): Promise<string | null> {
  const { stripeCustomerId } = link;
  let customer: Stripe.Customer | Stripe.DeletedCustomer;
  try {
    customer = await stripe.customers.retrieve(stripeCustomerId);
  } catch (error) {
    const kind = classifyStripeError(error)?.kind;
    if (kind === 'not_found') throw notLinkable(stripeCustomerId);
    if (kind === 'unavailable' || kind === 'rate_limited') {
      log.warn({ err: error, stripeCustomerId }, 'Stripe unavailable while linking a Stripe customer');
      throw new AppError(
        'service_unavailable',
        'Stripe could not be reached to check the Stripe customer; nothing was created. Try again.',
      );
    }
    throw error;
  }
  if (customer.deleted) throw notLinkable(stripeCustomerId);
  const metadata = customer.metadata ?? {};
  const emailMatches =
    sameEmail(customer.email, link.email) || sameEmail(metadata.customer_email, link.email);
  const organization = metadata.organization_id;
  const organizationMatches = organization === undefined || organization === link.organizationId;
  if (!emailMatches || !organizationMatches) throw notLinkable(stripeCustomerId);
  return defaultPaymentMethodOf(customer);
}
