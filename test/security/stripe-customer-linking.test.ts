// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createStripe } from '../../src/stripe/client';
import { call, config, newWorld, useHarness } from '../catalog/helpers';

/**
 * docs/security.md: POST /v1/customers links a Stripe customer only when it is the same person (its email
 * or metadata.customer_email), of no other organization (metadata.organization_id), and linked to no
 * customer yet; otherwise 422 stripe_customer_not_found, the same answer for every reason, and nothing is
 * created. The real app on the test stack's Postgres and Stripe emulator.
 */

const h = useHarness();
const stripe = createStripe(config);
const email = () => `l${randomUUID().slice(0, 8)}@example.test`;

async function link(apiKey: string, body: Record<string, unknown>) {
  return call(h.app, 'POST', '/v1/customers', { token: apiKey, body: { name: 'Linked', ...body } });
}

async function expectRefused(apiKey: string, body: Record<string, unknown>) {
  const before = (await call(h.app, 'GET', '/v1/customers', { token: apiKey })).body.data;
  const res = await link(apiKey, body);
  expect(res.status).toBe(422);
  expect(res.body).toEqual({
    success: false,
    error: {
      code: 'stripe_customer_not_found',
      message: `Stripe customer ${body.stripeCustomerId} cannot be linked: it must exist, carry this customer's email (email or metadata.customer_email), belong to no other organization (metadata.organization_id) and be linked to no customer yet.`,
    },
  });
  expect((await call(h.app, 'GET', '/v1/customers', { token: apiKey })).body.data).toEqual(before);
}

describe('linking a Stripe customer (docs/security.md)', () => {
  it('links one whose email matches, ignoring case and spaces', async () => {
    const w = await newWorld(h.app);
    const address = email();
    const { id } = await stripe.customers.create({ email: address.toUpperCase() });
    const res = await link(w.apiKey, { email: ` ${address} `.trim(), stripeCustomerId: id });
    expect([res.status, res.body.data?.stripeCustomerId]).toEqual([201, id]);
  });

  it('links one whose metadata.customer_email matches (Stripe email empty or another)', async () => {
    const w = await newWorld(h.app);
    const address = email();
    const { id } = await stripe.customers.create({
      email: 'billing@example.test',
      metadata: { customer_email: address, organization_id: w.orgId },
    });
    expect((await link(w.apiKey, { email: address, stripeCustomerId: id })).status).toBe(201);
  });

  it('refuses one whose email and metadata do not match', async () => {
    const w = await newWorld(h.app);
    const { id } = await stripe.customers.create({ email: email(), metadata: { customer_email: email() } });
    await expectRefused(w.apiKey, { email: email(), stripeCustomerId: id });
    const { id: noEmail } = await stripe.customers.create({});
    await expectRefused(w.apiKey, { email: email(), stripeCustomerId: noEmail });
  });

  it("refuses one of another organization (metadata.organization_id), even with the victim's email", async () => {
    const [mine, theirs] = [await newWorld(h.app), await newWorld(h.app)];
    const address = email();
    // What the product itself creates on a customer's first purchase.
    const { id } = await stripe.customers.create({
      email: address,
      metadata: { customer_id: 'cus_theirs', organization_id: theirs.orgId },
    });
    await expectRefused(mine.apiKey, { email: address, stripeCustomerId: id });
    expect((await link(theirs.apiKey, { email: address, stripeCustomerId: id })).status).toBe(201);
  });

  it('refuses one already linked, in this organization or another, with the same answer as a mismatch', async () => {
    const [first, second] = [await newWorld(h.app), await newWorld(h.app)];
    const address = email();
    const { id } = await stripe.customers.create({ email: address });
    expect((await link(first.apiKey, { email: address, stripeCustomerId: id })).status).toBe(201);
    await expectRefused(first.apiKey, { email: address, stripeCustomerId: id });
    await expectRefused(second.apiKey, { email: address, stripeCustomerId: id });
  });

  it('refuses an unknown one with the same answer (the emulator has no customer deletion to test)', async () => {
    const w = await newWorld(h.app);
    await expectRefused(w.apiKey, {
      email: email(),
      stripeCustomerId: `cus_nope${randomUUID().slice(0, 8)}`,
    });
  });
});
