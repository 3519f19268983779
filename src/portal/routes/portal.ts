import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { verifyPortalToken } from '../../auth/portal-tokens';
import { getPlan } from '../../db/billing';
import { portalSessionIsLive } from '../../db/credentials';
import { listPurchasablePacks, loadCustomerContext } from '../../db/eligibility-queries';
import { getBalance } from '../../db/ledger';
import { getCustomerPurchase, listPurchases, toPurchase } from '../../db/purchases';
import { checkCustomerCanBuy } from '../../domain/eligibility';
import { AppError } from '../../domain/errors';
import { bearerToken } from '../auth';
import { envelope, type RouteDeps, sessionOf } from '../context';
import * as S from '../schemas';
import { portalAutoTopUpRoutes } from './auto-top-up';
import { checkoutRoutes } from './checkout';
import { paymentMethodRoutes } from './payment-method';
import { portalReceiptRoutes } from './receipts';
import { testModeRoutes } from './test-mode';

const portalSecurity = [{ portalSession: [] }];

/** Customer portal routes: a portal session token, bound to one organization and one customer. */
export const portalRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { config, sql } = deps;
  app.addHook('onRequest', async (request) => {
    const claims = verifyPortalToken(config.PORTAL_SESSION_SECRET, bearerToken(request));
    // The session is only as good as its customer (a deleted one ends every session at once) and, for a token naming
    // its session, as long as that session is not revoked.
    const live = await portalSessionIsLive(sql, claims);
    if (!live) throw new AppError('unauthorized', 'Invalid or expired portal session.');
    request.portalSession = claims;
  });

  app.get(
    '/v1/portal/credit-packs',
    {
      schema: {
        tags: ['portal'],
        summary: 'The credit packs this customer can buy (cheapest first)',
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, Type.Array(S.PortalCreditPack)),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      const { context, packs } = await listPurchasablePacks(sql, { organizationId, customerId });
      if (!context.customer) throw new AppError('unauthorized', 'Invalid or expired portal session.');
      return envelope(
        packs.map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          credits: p.credits,
          price: p.price_cents,
          currency: p.currency,
        })),
      );
    },
  );

  app.get(
    '/v1/portal/balance',
    {
      schema: {
        tags: ['portal'],
        summary: "The customer's credits: plan-included and purchased, apart",
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, S.Balance),
      },
    },
    async (request) => envelope(await getBalance(sql, sessionOf(request))),
  );

  app.get(
    '/v1/portal/me',
    {
      schema: {
        tags: ['portal'],
        summary: 'The customer, their subscription, card on file, and whether they can buy packs now',
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, S.PortalMe),
      },
    },
    async (request) => {
      const session = sessionOf(request);
      const context = await loadCustomerContext(sql, session);
      const { customer, subscription, plan } = context;
      if (!customer) throw new AppError('unauthorized', 'Invalid or expired portal session.');
      const hasPaymentMethod = customer.defaultPaymentMethodId !== null;
      const verdict = checkCustomerCanBuy({
        plan,
        subscription,
        customerOrgId: session.organizationId,
        hasPaymentMethod,
      });
      const planName = subscription
        ? (await getPlan(sql, session.organizationId, subscription.planId)).name
        : null;
      return envelope({
        customer: { id: customer.id, name: customer.name, email: customer.email },
        subscription:
          subscription && planName !== null
            ? { id: subscription.id, status: subscription.status, planId: subscription.planId, planName }
            : null,
        hasPaymentMethod,
        canPurchase: verdict.ok
          ? { ok: true, code: null, message: null }
          : { ok: false, code: verdict.code, message: verdict.message },
      });
    },
  );

  app.get(
    '/v1/portal/purchases',
    {
      schema: {
        tags: ['portal'],
        summary: "The customer's purchases, newest first",
        security: portalSecurity,
        querystring: S.PortalPurchaseQuery,
        response: S.responses(200, Type.Array(S.Purchase)),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      const rows = await listPurchases(sql, organizationId, { ...request.query, customerId });
      return envelope(rows.map(toPurchase));
    },
  );

  app.get(
    '/v1/portal/purchases/:id',
    {
      schema: {
        tags: ['portal'],
        summary: 'One purchase of this customer',
        security: portalSecurity,
        params: S.IdParams('pur'),
        response: S.responses(200, S.Purchase),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      return envelope(
        toPurchase(
          await getCustomerPurchase(sql, { organizationId, customerId, purchaseId: request.params.id }),
        ),
      );
    },
  );
  app.get(
    '/v1/portal/settings',
    {
      schema: {
        tags: ['portal'],
        summary: 'What the portal page needs: test mode or real Stripe (and its publishable key), limits',
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(
          200,
          Type.Object({
            testMode: Type.Boolean({
              description: 'true: the Stripe emulator and its test cards (no real money)',
            }),
            stripePublishableKey: Type.Union([Type.String(), Type.Null()]),
            maxQuantity: Type.Integer(),
          }),
        ),
      },
    },
    async () =>
      envelope({
        testMode: !config.stripeIsReal,
        stripePublishableKey: config.stripeIsReal ? deps.stripePublishableKey : null,
        maxQuantity: config.MAX_PURCHASE_QUANTITY,
      }),
  );

  // Child plugins inherit this plugin's session hook.
  await app.register(checkoutRoutes, deps);
  await app.register(portalReceiptRoutes, deps);
  await app.register(portalAutoTopUpRoutes, deps);
  await app.register(paymentMethodRoutes, deps);
  if (!config.stripeIsReal) await app.register(testModeRoutes, deps);
};
