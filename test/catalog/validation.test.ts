// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { createStripe } from '../../src/stripe/client';
import { call, config, newCustomer, newPack, newWorld, ok, useHarness } from './helpers';

const h = useHarness();

const expectError = (res: { status: number; body: any }, status: number, code: string, label = '') => {
  expect([res.status, res.body?.error?.code], label).toEqual([status, code]);
  expect(res.body, label).toEqual({ success: false, error: { code, message: expect.any(String) } });
};

describe('input validation (every failure is a 4xx in the envelope and changes nothing)', () => {
  it('refuses invalid credit-pack bodies with validation_failed', async () => {
    const w = await newWorld(h.app);
    const good = { name: 'Pack', credits: 100, price: 1000 };
    const bad: [string, unknown][] = [
      ['missing name', { credits: 1, price: 1 }],
      ['missing credits', { name: 'a', price: 1 }],
      ['missing price', { name: 'a', credits: 1 }],
      ['empty name', { ...good, name: '' }],
      ['blank name', { ...good, name: '   ' }],
      ['name too long', { ...good, name: 'x'.repeat(101) }],
      ['description too long', { ...good, description: 'x'.repeat(1001) }],
      ['zero credits', { ...good, credits: 0 }],
      ['negative credits', { ...good, credits: -5 }],
      ['fractional credits', { ...good, credits: 1.5 }],
      ['credits as string', { ...good, credits: '100' }],
      ['huge credits', { ...good, credits: 1e12 }],
      ['zero price', { ...good, price: 0 }],
      ['negative price', { ...good, price: -1000 }],
      ['fractional price', { ...good, price: 9.99 }],
      ['price as string', { ...good, price: '1000' }],
      ['currency eur', { ...good, currency: 'eur' }],
      ['currency USD', { ...good, currency: 'USD' }],
      ['unknown field', { ...good, colour: 'red' }],
      ['null name', { ...good, name: null }],
      ['array body', [good]],
      ['string body', 'Pack'],
      ['visibility not an object', { ...good, visibility: 'all' }],
      ['planIds not ids', { ...good, visibility: { type: 'plans', planIds: ['abc'] } }],
    ];
    for (const [label, body] of bad) {
      const res = await call(h.app, 'POST', '/v1/credit-packs', {
        token: w.apiKey,
        raw: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expectError(res, 400, 'validation_failed', label);
    }
    const pack = await newPack(h.app, w, good);
    const badPatch: [string, unknown][] = [
      ['empty patch', {}],
      ['unknown field', { archived: true }],
      ['id not patchable', { id: 'cpk_aaaaaaaaaa' }],
      ['zero price', { price: 0 }],
      ['currency eur', { currency: 'eur' }],
    ];
    for (const [label, body] of badPatch) {
      const res = await call(h.app, 'PATCH', `/v1/credit-packs/${pack.id}`, {
        token: w.apiKey,
        body: body as object,
      });
      expectError(res, 400, 'validation_failed', label);
    }
    // only the one good pack exists, unchanged
    expect(await ok(h.app, 'GET', '/v1/credit-packs', { token: w.apiKey })).toEqual([pack]);
  });

  it('refuses malformed JSON, wrong content types and huge bodies without changing anything', async () => {
    const w = await newWorld(h.app);
    const post = (raw: string, contentType?: string) =>
      call(h.app, 'POST', '/v1/credit-packs', {
        token: w.apiKey,
        raw,
        headers: contentType ? { 'content-type': contentType } : {},
      });
    expectError(await post('{"name": "a", ', 'application/json'), 400, 'invalid_json', 'truncated');
    expectError(await post("{'name': 'a'}", 'application/json'), 400, 'invalid_json', 'single quotes');
    expectError(await post('', 'application/json'), 400, 'invalid_json', 'empty');
    expectError(
      await post('name=a&credits=1', 'application/x-www-form-urlencoded'),
      415,
      'unsupported_media_type',
    );
    expectError(
      await post('{"name":"a","credits":1,"price":1}', 'text/plain'),
      415,
      'unsupported_media_type',
    );
    expectError(await post('<pack/>', 'application/xml'), 415, 'unsupported_media_type');
    const huge = JSON.stringify({ name: 'a', credits: 1, price: 1, description: 'x'.repeat(200_000) });
    expectError(await post(huge, 'application/json'), 413, 'payload_too_large');
    // a prototype-pollution attempt is refused by the JSON parser
    expectError(
      await post('{"name":"a","credits":1,"price":1,"__proto__":{"admin":true}}', 'application/json'),
      400,
      'invalid_json',
    );
    expect(await ok(h.app, 'GET', '/v1/credit-packs', { token: w.apiKey })).toEqual([]);
  });

  it('validates plans, customers, subscriptions, portal sessions and query strings', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/v1/plans', { name: 'X', consumptionModel: 'flat' }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/plans',
        { name: 'X', consumptionModel: 'credits', includedCredits: -1 },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/plans',
        { name: 'X', consumptionModel: 'credits', isFree: 'yes' },
        400,
        'validation_failed',
      ],
      ['POST', '/v1/plans', { name: 'pro', consumptionModel: 'credits' }, 409, 'plan_name_taken'],
      ['POST', '/v1/customers', { email: 'not-an-email', name: 'X' }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/customers',
        { email: 'a@b.co', name: 'X', stripeCustomerId: 'acct_1' },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/customers',
        { email: 'a@b.co', name: 'X', defaultPaymentMethodId: 'card_1' },
        400,
        'validation_failed',
      ],
      ['POST', '/v1/customers', { email: 'a@b.co', name: 'X', plan: 'pro' }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/subscriptions',
        { customerId: c.customer.id, planId: w.plans.pro.id, status: 'paused' },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/subscriptions',
        { customerId: 'cus_unknown000', planId: w.plans.pro.id },
        404,
        'customer_not_found',
      ],
      [
        'POST',
        '/v1/subscriptions',
        { customerId: c.customer.id, planId: 'pln_unknown000' },
        404,
        'plan_not_found',
      ],
      [
        'POST',
        '/v1/subscriptions',
        { customerId: c.customer.id, planId: w.plans.free.id },
        409,
        'subscription_exists',
      ],
      ['PATCH', `/v1/subscriptions/${c.subscription.id}`, {}, 400, 'validation_failed'],
      ['PATCH', `/v1/subscriptions/${c.subscription.id}`, { status: 'ACTIVE' }, 400, 'validation_failed'],
      [
        'PATCH',
        `/v1/subscriptions/${c.subscription.id}`,
        { customerId: c.customer.id },
        400,
        'validation_failed',
      ],
      ['PATCH', '/v1/subscriptions/sub_unknown000', { status: 'active' }, 404, 'subscription_not_found'],
      ['POST', '/v1/portal-sessions', {}, 400, 'validation_failed'],
      ['POST', '/v1/portal-sessions', { customerId: 'cus_unknown000' }, 404, 'customer_not_found'],
      ['POST', '/v1/portal-sessions', { customerId: c.customer.id, ttl: 99999 }, 400, 'validation_failed'],
      ['GET', '/v1/purchases?status=bogus', undefined, 400, 'validation_failed'],
      ['GET', '/v1/purchases?limit=0', undefined, 400, 'validation_failed'],
      ['GET', '/v1/purchases?limit=abc', undefined, 400, 'validation_failed'],
      ['GET', '/v1/purchases?customerId=nope', undefined, 400, 'validation_failed'],
      ['GET', '/v1/purchases?sort=asc', undefined, 400, 'validation_failed'],
      ['GET', '/v1/credit-packs?archived=maybe', undefined, 400, 'validation_failed'],
      ['GET', '/v1/credit-packs/not-an-id', undefined, 400, 'validation_failed'],
      ['GET', '/v1/credit-packs/cpk_unknown000', undefined, 404, 'credit_pack_not_found'],
      ['GET', '/v1/customers/cus_unknown000', undefined, 404, 'customer_not_found'],
      ['GET', '/v1/purchases/pur_unknown000', undefined, 404, 'purchase_not_found'],
      ['GET', '/v1/nothing-here', undefined, 404, 'not_found'],
      ['DELETE', '/v1/credit-packs', undefined, 405, 'method_not_allowed'],
    ];
    for (const [method, url, body, status, code] of cases) {
      const res = await call(h.app, method as 'GET', url, { token: w.apiKey, body });
      expectError(res, status, code, `${method} ${url} ${JSON.stringify(body)}`);
    }
    // the portal validates its queries too
    expectError(
      await call(h.app, 'GET', '/v1/portal/purchases?status=x', { token: c.token }),
      400,
      'validation_failed',
    );
    expectError(
      await call(h.app, 'GET', '/v1/portal/credit-packs?all=1', { token: c.token }),
      400,
      'validation_failed',
    );
    expectError(
      await call(h.app, 'GET', '/v1/portal/purchases/pur_unknown000', { token: c.token }),
      404,
      'purchase_not_found',
    );
    // nothing changed: still one subscription, still active
    const subs = await ok(h.app, 'GET', `/v1/subscriptions?customerId=${c.customer.id}`, { token: w.apiKey });
    expect(subs).toEqual([c.subscription]);
  });

  it('creates organizations only with the platform token and a valid name', async () => {
    const post = (token: string | undefined, body: unknown) =>
      call(h.app, 'POST', '/v1/organizations', { ...(token ? { token } : {}), body });
    expectError(await post(undefined, { name: 'A' }), 401, 'unauthorized');
    expectError(await post('wrong-token-wrong-token', { name: 'A' }), 401, 'unauthorized');
    expectError(await post(config.PLATFORM_ADMIN_TOKEN, {}), 400, 'validation_failed');
    expectError(
      await post(config.PLATFORM_ADMIN_TOKEN, { name: 'A', apiKey: 'mine' }),
      400,
      'validation_failed',
    );
    const res = await call(h.app, 'GET', '/v1/credit-packs', { headers: { authorization: 'Basic abc' } });
    expectError(res, 401, 'unauthorized');
  });

  it('a linked Stripe customer belongs to one customer only', async () => {
    const w = await newWorld(h.app);
    // A Stripe customer that exists (the link is checked against Stripe), with no card of its own there.
    const { id: stripeCustomerId } = await createStripe(config).customers.create({ email: 'a@b.co' });
    const first = await ok(h.app, 'POST', '/v1/customers', {
      token: w.apiKey,
      body: { email: 'a@b.co', name: 'A', stripeCustomerId, defaultPaymentMethodId: 'pm_card_visa' },
    });
    expect(first).toMatchObject({
      stripeCustomerId,
      defaultPaymentMethodId: 'pm_card_visa',
      hasPaymentMethod: true,
    });
    const again = await call(h.app, 'POST', '/v1/customers', {
      token: w.apiKey,
      body: { email: 'a@b.co', name: 'B', stripeCustomerId },
    });
    // docs/security.md: linked already answers as a Stripe customer that cannot be linked (no 409 that
    // would tell an organization another customer has it).
    expectError(again, 422, 'stripe_customer_not_found');
  });
});
