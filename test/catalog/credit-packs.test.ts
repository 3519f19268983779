// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { call, newPack, newWorld, ok, uniqueName, useHarness } from './helpers';

const h = useHarness();

describe('admin credit packs', () => {
  it('creates, reads, lists, updates and archives a pack', async () => {
    const w = await newWorld(h.app);
    const created = await ok(h.app, 'POST', '/v1/credit-packs', {
      token: w.apiKey,
      body: {
        name: 'Starter Pack',
        description: '100 credits for light usage',
        credits: 100,
        price: 1000,
        currency: 'usd',
      },
    });
    expect(created).toMatchObject({
      name: 'Starter Pack',
      description: '100 credits for light usage',
      credits: 100,
      price: 1000,
      currency: 'usd',
      visibility: { type: 'all_credits_plans' },
      archived: false,
      archivedAt: null,
    });
    expect(created.id).toMatch(/^cpk_[A-Za-z0-9]{20}$/);

    expect(await ok(h.app, 'GET', `/v1/credit-packs/${created.id}`, { token: w.apiKey })).toEqual(created);

    const patched = await ok(h.app, 'PATCH', `/v1/credit-packs/${created.id}`, {
      token: w.apiKey,
      body: {
        price: 900,
        description: null,
        visibility: { type: 'plans', planIds: [w.plans.enterprise.id] },
      },
    });
    expect(patched).toMatchObject({
      price: 900,
      credits: 100,
      description: null,
      visibility: { type: 'plans', planIds: [w.plans.enterprise.id] },
    });

    const archived = await ok(h.app, 'POST', `/v1/credit-packs/${created.id}/archive`, {
      token: w.apiKey,
      status: 200,
    });
    expect(archived.archived).toBe(true);
    // archiving is idempotent and keeps the first timestamp
    const again = await ok(h.app, 'POST', `/v1/credit-packs/${created.id}/archive`, {
      token: w.apiKey,
      status: 200,
    });
    expect(again.archivedAt).toBe(archived.archivedAt);

    const other = await newPack(h.app, w);
    const all = await ok(h.app, 'GET', '/v1/credit-packs', { token: w.apiKey });
    expect(all.map((p: any) => p.id)).toEqual([created.id, other.id]);
    const live = await ok(h.app, 'GET', '/v1/credit-packs?archived=false', { token: w.apiKey });
    expect(live.map((p: any) => p.id)).toEqual([other.id]);
    const gone = await ok(h.app, 'GET', '/v1/credit-packs?archived=true', { token: w.apiKey });
    expect(gone.map((p: any) => p.id)).toEqual([created.id]);
  });

  it('an archived pack cannot be edited', async () => {
    const w = await newWorld(h.app);
    const pack = await newPack(h.app, w);
    await ok(h.app, 'POST', `/v1/credit-packs/${pack.id}/archive`, { token: w.apiKey, status: 200 });
    const res = await call(h.app, 'PATCH', `/v1/credit-packs/${pack.id}`, {
      token: w.apiKey,
      body: { price: 5 },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('credit_pack_archived');
  });

  it('pack names are unique per organization, ignoring case, on create and on rename', async () => {
    const w = await newWorld(h.app);
    await newPack(h.app, w, { name: 'Power Pack' });
    for (const name of ['Power Pack', 'power pack', 'POWER PACK', '  Power Pack  ']) {
      const res = await call(h.app, 'POST', '/v1/credit-packs', {
        token: w.apiKey,
        body: { name, credits: 1, price: 1 },
      });
      expect(res.status, name).toBe(409);
      expect(res.body).toEqual({
        success: false,
        error: { code: 'credit_pack_name_taken', message: expect.any(String) },
      });
    }
    const second = await newPack(h.app, w, { name: 'Mega Pack' });
    const rename = await call(h.app, 'PATCH', `/v1/credit-packs/${second.id}`, {
      token: w.apiKey,
      body: { name: 'pOWER pACK' },
    });
    expect(rename.status).toBe(409);
    expect(rename.body.error.code).toBe('credit_pack_name_taken');
    // renaming a pack to its own name in another case is fine
    await ok(h.app, 'PATCH', `/v1/credit-packs/${second.id}`, {
      token: w.apiKey,
      body: { name: 'MEGA pack' },
    });

    // the same name in another organization is fine
    const w2 = await newWorld(h.app);
    await newPack(h.app, w2, { name: 'Power Pack' });
  });

  it('racing creates of one name: exactly one wins, the rest get 409 (never 5xx)', async () => {
    const w = await newWorld(h.app);
    const results = await Promise.all(
      ['Race Pack', 'race pack', 'RACE PACK', 'Race pack', 'race PACK'].map((name) =>
        call(h.app, 'POST', '/v1/credit-packs', { token: w.apiKey, body: { name, credits: 1, price: 1 } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(await ok(h.app, 'GET', '/v1/credit-packs', { token: w.apiKey })).toHaveLength(1);
  });

  it('visibility lists only existing credits plans of the organization', async () => {
    const w = await newWorld(h.app);
    const w2 = await newWorld(h.app);
    const cases: [unknown, number, string][] = [
      [{ type: 'plans', planIds: [w2.plans.pro.id] }, 404, 'plan_not_found'],
      [{ type: 'plans', planIds: ['pln_doesnotexist'] }, 404, 'plan_not_found'],
      [{ type: 'plans', planIds: [w.plans.metered.id] }, 422, 'plan_not_credits_based'],
      [{ type: 'plans', planIds: [] }, 400, 'validation_failed'],
      [{ type: 'plans' }, 400, 'validation_failed'],
      [{ type: 'all_credits_plans', planIds: [w.plans.pro.id] }, 400, 'validation_failed'],
      [{ type: 'some' }, 400, 'validation_failed'],
      [{ type: 'plans', planIds: [w.plans.pro.id, w.plans.pro.id] }, 400, 'validation_failed'],
    ];
    for (const [visibility, status, code] of cases) {
      const res = await call(h.app, 'POST', '/v1/credit-packs', {
        token: w.apiKey,
        body: { name: uniqueName('V'), credits: 1, price: 1, visibility },
      });
      expect([res.status, res.body.error?.code], JSON.stringify(visibility)).toEqual([status, code]);
    }
    // nothing was created by any refused call
    expect(await ok(h.app, 'GET', '/v1/credit-packs', { token: w.apiKey })).toEqual([]);
  });

  it("another organization's pack is not found, for every admin verb", async () => {
    const w = await newWorld(h.app);
    const intruder = await newWorld(h.app);
    const pack = await newPack(h.app, w);
    const attempts = [
      call(h.app, 'GET', `/v1/credit-packs/${pack.id}`, { token: intruder.apiKey }),
      call(h.app, 'PATCH', `/v1/credit-packs/${pack.id}`, { token: intruder.apiKey, body: { price: 1 } }),
      call(h.app, 'POST', `/v1/credit-packs/${pack.id}/archive`, { token: intruder.apiKey }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('credit_pack_not_found');
    }
    expect(await ok(h.app, 'GET', '/v1/credit-packs', { token: intruder.apiKey })).toEqual([]);
    expect(await ok(h.app, 'GET', `/v1/credit-packs/${pack.id}`, { token: w.apiKey })).toEqual(pack);
  });
});
