// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { call, newCustomer, newWorld, ok, useHarness } from '../catalog/helpers';

/**
 * Keys and sessions (docs/api.md#keys-and-sessions--served): an organization's API key is rotated, the
 * old one working 24 h (or stopping at once); a portal session is revoked and its token answers 401.
 */

const h = useHarness();
const plans = (apiKey: string) => call(h.app, 'GET', '/v1/plans', { token: apiKey });

describe('POST /v1/api-keys/rotate', () => {
  it('answers a new key once; the old one keeps working for the grace period', async () => {
    const w = await newWorld(h.app);
    const rotated = await ok(h.app, 'POST', '/v1/api-keys/rotate', { token: w.apiKey, body: {} });
    expect(Object.keys(rotated)).toEqual(['apiKey']);
    expect(rotated.apiKey).toMatch(/^orgkey_/);
    expect(rotated.apiKey).not.toBe(w.apiKey);
    expect((await plans(rotated.apiKey)).status).toBe(200);
    expect((await plans(w.apiKey)).status).toBe(200);
    // Both keys are the same organization's.
    expect((await plans(rotated.apiKey)).body.data).toEqual((await plans(w.apiKey)).body.data);
  });

  it('with revokeOldNow every other key stops at once, the new one works', async () => {
    const w = await newWorld(h.app);
    const second = await ok(h.app, 'POST', '/v1/api-keys/rotate', { token: w.apiKey, body: {} });
    const third = await ok(h.app, 'POST', '/v1/api-keys/rotate', {
      token: second.apiKey,
      body: { revokeOldNow: true },
    });
    for (const old of [w.apiKey, second.apiKey]) {
      const res = await plans(old);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    expect((await plans(third.apiKey)).status).toBe(200);
  });

  it('refuses a bad body and an unknown key, changing nothing', async () => {
    const w = await newWorld(h.app);
    const bad = await call(h.app, 'POST', '/v1/api-keys/rotate', {
      token: w.apiKey,
      body: { revokeOldNow: 'yes' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const unknown = await call(h.app, 'POST', '/v1/api-keys/rotate', { token: 'orgkey_nope', body: {} });
    expect(unknown.status).toBe(401);
    expect((await plans(w.apiKey)).status).toBe(200);
  });
});

describe('portal sessions', () => {
  it('a session has an id; revoked, its token answers 401 at once (revoking again is fine)', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const session = await ok(h.app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: c.customer.id },
    });
    expect(session.id).toMatch(/^pss_/);
    expect((await call(h.app, 'GET', '/v1/portal/balance', { token: session.token })).status).toBe(200);

    const revoked = await ok(h.app, 'POST', `/v1/portal-sessions/${session.id}/revoke`, {
      token: w.apiKey,
      status: 200,
    });
    expect(revoked).toMatchObject({ id: session.id, revoked: true });
    const refused = await call(h.app, 'GET', '/v1/portal/balance', { token: session.token });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    const again = await call(h.app, 'POST', `/v1/portal-sessions/${session.id}/revoke`, { token: w.apiKey });
    expect(again.status).toBe(200);
    expect(again.body.data.revokedAt).toBe(revoked.revokedAt);
    // Another session of the same customer is untouched.
    const other = await ok(h.app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: c.customer.id },
    });
    expect((await call(h.app, 'GET', '/v1/portal/balance', { token: other.token })).status).toBe(200);
  });

  it("another organization's session, or an unknown one, is not found", async () => {
    const w = await newWorld(h.app);
    const stranger = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const session = await ok(h.app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: c.customer.id },
    });
    for (const [token, id] of [
      [stranger.apiKey, session.id],
      [w.apiKey, 'pss_00000000000000000000'],
    ]) {
      const res = await call(h.app, 'POST', `/v1/portal-sessions/${id}/revoke`, { token });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('portal_session_not_found');
    }
    expect((await call(h.app, 'GET', '/v1/portal/balance', { token: session.token })).status).toBe(200);
  });
});
