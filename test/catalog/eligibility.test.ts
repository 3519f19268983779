import { describe, expect, it } from 'vitest';
import type { CreditPackFacts, PlanFacts, SubscriptionFacts } from '../../src/domain/catalog';
import { checkCustomerCanBuy, checkEligibility } from '../../src/domain/eligibility';
import { errorStatus } from '../../src/domain/errors';
import { canTransition, isTerminalPurchaseStatus, purchaseStatuses } from '../../src/domain/purchase-states';

const ORG = 'org_aaaaaaaa';
const plan = (over: Partial<PlanFacts> = {}): PlanFacts => ({
  id: 'pln_pro00000',
  organizationId: ORG,
  consumptionModel: 'credits',
  isFree: false,
  ...over,
});
const sub = (over: Partial<SubscriptionFacts> = {}): SubscriptionFacts => ({
  id: 'sub_aaaaaaaa',
  organizationId: ORG,
  customerId: 'cus_aaaaaaaa',
  planId: 'pln_pro00000',
  status: 'active',
  ...over,
});
const pack = (over: Partial<CreditPackFacts> = {}): CreditPackFacts => ({
  id: 'cpk_aaaaaaaa',
  organizationId: ORG,
  name: 'Starter',
  credits: 100,
  priceCents: 1000,
  currency: 'usd',
  visibility: { type: 'all_credits_plans' },
  archived: false,
  ...over,
});
const base = { pack: pack(), plan: plan(), subscription: sub(), customerOrgId: ORG };

describe('checkEligibility (docs/domain.md#domain-rules)', () => {
  it('allows an active subscription on a credits plan for a pack visible to all credits plans', () => {
    expect(checkEligibility(base)).toEqual({ ok: true, needsPaymentMethod: false });
  });

  it('allows trialing subscriptions and free plans', () => {
    expect(checkEligibility({ ...base, subscription: sub({ status: 'trialing' }) }).ok).toBe(true);
    expect(checkEligibility({ ...base, plan: plan({ isFree: true }) }).ok).toBe(true);
  });

  it('does not refuse for a missing card: it asks for one', () => {
    expect(checkEligibility({ ...base, hasPaymentMethod: false })).toEqual({
      ok: true,
      needsPaymentMethod: true,
    });
    expect(checkEligibility({ ...base, hasPaymentMethod: true })).toEqual({
      ok: true,
      needsPaymentMethod: false,
    });
  });

  it('refuses a missing pack and a pack of another organization alike', () => {
    expect(checkEligibility({ ...base, pack: null })).toMatchObject({
      ok: false,
      code: 'credit_pack_not_found',
    });
    expect(checkEligibility({ ...base, pack: pack({ organizationId: 'org_bbbbbbbb' }) })).toMatchObject({
      ok: false,
      code: 'credit_pack_not_found',
    });
  });

  it('refuses an archived pack', () => {
    expect(checkEligibility({ ...base, pack: pack({ archived: true }) })).toMatchObject({
      ok: false,
      code: 'credit_pack_archived',
    });
  });

  it('refuses without a subscription', () => {
    expect(checkEligibility({ ...base, subscription: null, plan: null })).toMatchObject({
      ok: false,
      code: 'subscription_inactive',
    });
  });

  it('refuses plans that are not credits-based', () => {
    for (const model of ['usage_based', 'seats'] as const) {
      expect(checkEligibility({ ...base, plan: plan({ consumptionModel: model }) })).toMatchObject({
        ok: false,
        code: 'plan_not_credits_based',
      });
    }
  });

  it('honours visibility restricted to listed plans', () => {
    const restricted = pack({ visibility: { type: 'plans', planIds: ['pln_enterpri'] } });
    expect(checkEligibility({ ...base, pack: restricted })).toMatchObject({
      ok: false,
      code: 'pack_not_visible',
    });
    expect(
      checkEligibility({
        ...base,
        pack: restricted,
        plan: plan({ id: 'pln_enterpri' }),
        subscription: sub({ planId: 'pln_enterpri' }),
      }),
    ).toEqual({ ok: true, needsPaymentMethod: false });
  });

  it('refuses past-due, canceled and ended subscriptions with distinct codes', () => {
    const codes = (['past_due', 'canceled', 'ended'] as const).map((status) => {
      const r = checkEligibility({ ...base, subscription: sub({ status }) });
      return r.ok ? 'ok' : r.code;
    });
    expect(codes).toEqual(['subscription_past_due', 'subscription_canceled', 'subscription_ended']);
  });

  it('refuses inconsistent facts (plan is not the subscription plan, or another organization)', () => {
    expect(checkEligibility({ ...base, plan: plan({ id: 'pln_other000' }) }).ok).toBe(false);
    expect(checkEligibility({ ...base, subscription: sub({ organizationId: 'org_bbbbbbbb' }) }).ok).toBe(
      false,
    );
  });

  it('checks the pack before the subscription (a missing pack is reported as such)', () => {
    expect(
      checkEligibility({ ...base, pack: null, subscription: sub({ status: 'past_due' }) }),
    ).toMatchObject({
      code: 'credit_pack_not_found',
    });
  });

  it('every refusal code maps to a 4xx', () => {
    for (const code of [
      'credit_pack_not_found',
      'credit_pack_archived',
      'subscription_inactive',
      'plan_not_credits_based',
      'pack_not_visible',
      'subscription_past_due',
      'subscription_canceled',
      'subscription_ended',
    ] as const) {
      expect(errorStatus[code]).toBeGreaterThanOrEqual(400);
      expect(errorStatus[code]).toBeLessThan(500);
    }
  });
});

describe('checkCustomerCanBuy', () => {
  it('is the rule without the pack', () => {
    expect(checkCustomerCanBuy({ plan: plan(), subscription: sub(), customerOrgId: ORG }).ok).toBe(true);
    expect(
      checkCustomerCanBuy({ plan: plan(), subscription: sub({ status: 'past_due' }), customerOrgId: ORG }),
    ).toMatchObject({ code: 'subscription_past_due' });
  });
});

describe('purchase states', () => {
  it('terminal states have no way out except completed → refunded, and back when that refund fails', () => {
    for (const from of purchaseStatuses) {
      if (!isTerminalPurchaseStatus(from)) continue;
      const exits = purchaseStatuses.filter((to) => canTransition(from, to));
      expect(exits).toEqual(from === 'completed' ? ['refunded'] : from === 'refunded' ? ['completed'] : []);
    }
  });

  it('the happy path is allowed', () => {
    const path = [
      'pending',
      'awaiting_payment_method',
      'charging',
      'requires_action',
      'crediting',
      'completed',
    ] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });
});
