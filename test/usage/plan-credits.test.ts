// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { call, newCustomer, newWorld, ok, useHarness } from '../catalog/helpers';
import { balanceOf, buyCredits, entries, expectOrgInvariants, useCredits } from './helpers';

/** Plan credits per subscription period: granted at creation, activation and renewal; renewal expires them. */
const h = useHarness();

describe('plan credits', () => {
  it('a subscription created active or trialing on a credits plan grants includedCredits; others grant nothing', async () => {
    const w = await newWorld(h.app);
    const active = await newCustomer(h.app, w, w.plans.pro.id, 'active');
    const trialing = await newCustomer(h.app, w, w.plans.free.id, 'trialing');
    const pastDue = await newCustomer(h.app, w, w.plans.pro.id, 'past_due');
    const metered = await newCustomer(h.app, w, w.plans.metered.id, 'active');
    expect(await balanceOf(h.app, w, active.customer.id)).toEqual({
      planCredits: 1000,
      purchasedCredits: 0,
      total: 1000,
    });
    expect(await balanceOf(h.app, w, trialing.customer.id)).toEqual({
      planCredits: 50,
      purchasedCredits: 0,
      total: 50,
    });
    expect((await balanceOf(h.app, w, pastDue.customer.id)).total).toBe(0);
    expect((await balanceOf(h.app, w, metered.customer.id)).total).toBe(0);
    await expectOrgInvariants(h.sql, w);
  });

  it('moving to active grants once per period, however often it is asked', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id, 'past_due');
    const patch = (status: string) =>
      ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, { token: w.apiKey, body: { status } });
    await patch('active');
    await patch('active');
    await patch('past_due');
    await patch('trialing');
    await Promise.all([patch('active'), patch('active'), patch('active')]);
    expect(await entries(h.sql, c.customer.id, 'plan_grant')).toEqual([['plan', 1000]]);
    expect((await balanceOf(h.app, w, c.customer.id)).planCredits).toBe(1000);
    await expectOrgInvariants(h.sql, w);
  });

  it('renew expires unused plan credits (never below zero), grants again, and keeps purchased credits', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id, 'active');
    await buyCredits(h.app, h.sql, w, c.customer.id, 500);
    expect((await useCredits(h.app, w, c.customer.id, { credits: 300 })).status).toBe(200);
    const renew = () =>
      ok(h.app, 'POST', `/v1/subscriptions/${c.subscription.id}/renew`, { token: w.apiKey, status: 200 });
    expect(await renew()).toMatchObject({ id: c.subscription.id, status: 'active' });
    expect(await entries(h.sql, c.customer.id, 'plan_expiry')).toEqual([['plan', -700]]);
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual({
      planCredits: 1000,
      purchasedCredits: 500,
      total: 1500,
    });

    // all plan credits used, then some purchased: nothing left to expire, purchased credits stay
    expect((await useCredits(h.app, w, c.customer.id, { credits: 1200 })).status).toBe(200);
    await renew();
    expect(await entries(h.sql, c.customer.id, 'plan_expiry')).toEqual([['plan', -700]]);
    expect(await entries(h.sql, c.customer.id, 'plan_grant')).toEqual([
      ['plan', 1000],
      ['plan', 1000],
      ['plan', 1000],
    ]);
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual({
      planCredits: 1000,
      purchasedCredits: 300,
      total: 1300,
    });
    const [sub] = await h.sql<{ current_period: number }[]>`
      select current_period from subscriptions where id = ${c.subscription.id}`;
    expect(sub?.current_period).toBe(3);
    await expectOrgInvariants(h.sql, w);
  });

  it('renew of a past-due subscription expires without granting; canceled or unknown ones are refused', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id, 'active');
    await ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, {
      token: w.apiKey,
      body: { status: 'past_due' },
    });
    await ok(h.app, 'POST', `/v1/subscriptions/${c.subscription.id}/renew`, { token: w.apiKey, status: 200 });
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual({
      planCredits: 0,
      purchasedCredits: 0,
      total: 0,
    });
    // back to active in the new period: its grant
    await ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, {
      token: w.apiKey,
      body: { status: 'active' },
    });
    expect((await balanceOf(h.app, w, c.customer.id)).planCredits).toBe(1000);

    await ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, {
      token: w.apiKey,
      body: { status: 'canceled' },
    });
    const canceled = await call(h.app, 'POST', `/v1/subscriptions/${c.subscription.id}/renew`, {
      token: w.apiKey,
    });
    expect(canceled.status).toBe(422);
    expect(canceled.body.error.code).toBe('subscription_canceled');
    expect((await balanceOf(h.app, w, c.customer.id)).planCredits).toBe(1000);

    const unknown = await call(h.app, 'POST', '/v1/subscriptions/sub_unknown123456/renew', {
      token: w.apiKey,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('subscription_not_found');
    // another organization's subscription is not found either
    const other = await newWorld(h.app);
    const foreign = await call(h.app, 'POST', `/v1/subscriptions/${c.subscription.id}/renew`, {
      token: other.apiKey,
    });
    expect(foreign.status).toBe(404);
    await expectOrgInvariants(h.sql, w);
  });
});
