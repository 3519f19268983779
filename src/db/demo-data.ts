import { issuePortalToken, portalLink } from '../auth/portal-tokens';
import type { Config } from '../config';
import type { Sql } from './client';
import { apiKeyHint, sha256Hex } from './ids';

/**
 * Demo data for `npm start`: one organization with plans of every kind, customers in the interesting
 * situations, and a pack catalog including an enterprise-only bulk pack.
 *
 * Idempotent: fixed ids and `on conflict do nothing`, so it is safe on every start and never overwrites
 * what someone changed through the API afterwards. The API key is a fixed, local-only value.
 */

export const DEMO_ORGANIZATION_ID = 'org_demoAcme000001';
/** Local-only demo key (the organization's API key is otherwise random and shown once). */
export const DEMO_API_KEY = 'orgkey_demoLocalOnlyNotASecret000000000000';

const plans = [
  {
    id: 'pln_demoFree000001',
    name: 'Free',
    consumption_model: 'credits',
    is_free: true,
    included_credits: 50,
  },
  {
    id: 'pln_demoPro0000001',
    name: 'Pro',
    consumption_model: 'credits',
    is_free: false,
    included_credits: 1000,
  },
  {
    id: 'pln_demoEnterprise',
    name: 'Enterprise',
    consumption_model: 'credits',
    is_free: false,
    included_credits: 20000,
  },
  {
    id: 'pln_demoMetered001',
    name: 'Metered',
    consumption_model: 'usage_based',
    is_free: false,
    included_credits: 0,
  },
] as const;

/** Stripe test payment methods (docs/domain.md#stripe-facts); the Stripe customer is created on the first purchase. */
const customers = [
  {
    id: 'cus_demoAlice00001',
    name: 'Alice (free plan, no card yet)',
    email: 'alice@demo.test',
    pm: null,
    plan: 'pln_demoFree000001',
    status: 'active',
    scenario: 'free plan without a card: the first purchase asks for one',
  },
  {
    id: 'cus_demoBob000001',
    name: 'Bob (Pro, card on file)',
    email: 'bob@demo.test',
    pm: 'pm_card_visa',
    plan: 'pln_demoPro0000001',
    status: 'active',
    scenario: 'happy path: charged off-session and credited',
  },
  {
    id: 'cus_demoCarol0001',
    name: 'Carol (Pro, trialing)',
    email: 'carol@demo.test',
    pm: 'pm_card_visa',
    plan: 'pln_demoPro0000001',
    status: 'trialing',
    scenario: 'trialing subscription: may buy',
  },
  {
    id: 'cus_demoDave00001',
    name: 'Dave (Pro, past due)',
    email: 'dave@demo.test',
    pm: 'pm_card_visa',
    plan: 'pln_demoPro0000001',
    status: 'past_due',
    scenario: 'past due: no packs offered, checkout refused',
  },
  {
    id: 'cus_demoErin00001',
    name: 'Erin (Enterprise)',
    email: 'erin@demo.test',
    pm: 'pm_card_visa',
    plan: 'pln_demoEnterprise',
    status: 'active',
    scenario: 'enterprise plan: also sees the bulk pack',
  },
  {
    id: 'cus_demoFrank0001',
    name: 'Frank (usage-based plan)',
    email: 'frank@demo.test',
    pm: 'pm_card_visa',
    plan: 'pln_demoMetered001',
    status: 'active',
    scenario: 'usage-based plan: no packs offered',
  },
  {
    id: 'cus_demoGrace0001',
    name: 'Grace (Pro, declining card)',
    email: 'grace@demo.test',
    pm: 'pm_card_chargeCustomerFail',
    plan: 'pln_demoPro0000001',
    status: 'active',
    scenario: 'card on file always declines: purchase fails',
  },
  {
    id: 'cus_demoHeidi0001',
    name: 'Heidi (Pro, 3-D Secure card)',
    email: 'heidi@demo.test',
    pm: 'pm_card_authenticationRequired',
    plan: 'pln_demoPro0000001',
    status: 'active',
    scenario: 'card needs 3-D Secure: purchase requires action',
  },
] as const;

const packs = [
  {
    id: 'cpk_demoStarter001',
    name: 'Starter Pack',
    description: '100 credits for light usage',
    credits: 100,
    price_cents: 1000,
    plans: null,
    archived: false,
  },
  {
    id: 'cpk_demoPower00001',
    name: 'Power Pack',
    description: '500 credits for regular usage',
    credits: 500,
    price_cents: 4000,
    plans: null,
    archived: false,
  },
  {
    id: 'cpk_demoMega000001',
    name: 'Mega Pack',
    description: '2,000 credits for heavy usage',
    credits: 2000,
    price_cents: 14000,
    plans: null,
    archived: false,
  },
  {
    id: 'cpk_demoBulk000001',
    name: 'Enterprise Bulk Pack',
    description: '25,000 credits, enterprise plans only',
    credits: 25000,
    price_cents: 150000,
    plans: ['pln_demoEnterprise'],
    archived: false,
  },
  {
    id: 'cpk_demoLegacy0001',
    name: 'Legacy Pack',
    description: 'Archived: no longer sold',
    credits: 50,
    price_cents: 600,
    plans: null,
    archived: true,
  },
] as const;

export interface DemoCustomer {
  id: string;
  name: string;
  scenario: string;
  portalToken: string;
  portalUrl: string;
}

export interface DemoData {
  organizationId: string;
  apiKey: string;
  portalUrl: string;
  portalTokenExpiresAt: string;
  customers: DemoCustomer[];
  creditPackIds: string[];
}

export async function loadDemoData({ sql, config }: { sql: Sql; config: Config }): Promise<DemoData> {
  const org = DEMO_ORGANIZATION_ID;
  await sql.begin(async (tx) => {
    // serialise concurrent loaders (two processes starting at once) so the plan grants stay single
    await tx`select pg_advisory_xact_lock(4242005)`;
    await tx`
      insert into organizations (id, name, api_key_hash, api_key_hint)
      values (${org}, 'Acme Demo', ${sha256Hex(DEMO_API_KEY)}, ${apiKeyHint(DEMO_API_KEY)})
      on conflict do nothing`;
    for (const p of plans) {
      await tx`
        insert into plans (id, organization_id, name, consumption_model, is_free, included_credits)
        values (${p.id}, ${org}, ${p.name}, ${p.consumption_model}, ${p.is_free}, ${p.included_credits})
        on conflict do nothing`;
    }
    for (const c of customers) {
      await tx`
        insert into customers (id, organization_id, email, name, default_payment_method_id)
        values (${c.id}, ${org}, ${c.email}, ${c.name}, ${c.pm})
        on conflict do nothing`;
      await tx`
        insert into subscriptions (id, organization_id, customer_id, plan_id, status)
        values (${`sub_${c.id.slice(4)}`}, ${org}, ${c.id}, ${c.plan}, ${c.status})
        on conflict do nothing`;
      // this period's plan credits, once
      const plan = plans.find((p) => p.id === c.plan)!;
      if (plan.included_credits > 0) {
        await tx`
          insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description,
                                     subscription_id, subscription_period)
          select ${org}, ${c.id}, 'plan', 'plan_grant', ${plan.included_credits}, 'demo: plan credits for this period',
                 ${`sub_${c.id.slice(4)}`}, 1
           where not exists (select 1 from credit_ledger where customer_id = ${c.id} and kind = 'plan_grant')`;
      }
    }
    for (const k of packs) {
      await tx`
        insert into credit_packs (id, organization_id, name, description, credits, price_cents, visibility, archived_at)
        values (${k.id}, ${org}, ${k.name}, ${k.description}, ${k.credits}, ${k.price_cents},
                ${k.plans ? 'plans' : 'all_credits_plans'}, ${k.archived ? new Date() : null})
        on conflict do nothing`;
      for (const planId of k.plans ?? []) {
        await tx`
          insert into credit_pack_plans (organization_id, credit_pack_id, plan_id)
          select ${org}, ${k.id}, ${planId}
           where exists (select 1 from credit_packs where id = ${k.id} and organization_id = ${org})
          on conflict do nothing`;
      }
    }
  });

  let expiresAt = new Date();
  const demoCustomers = customers.map((c) => {
    const issued = issuePortalToken(
      config.PORTAL_SESSION_SECRET,
      { organizationId: org, customerId: c.id },
      config.PORTAL_SESSION_TTL_SECONDS,
    );
    expiresAt = issued.expiresAt;
    return {
      id: c.id,
      name: c.name,
      scenario: c.scenario,
      portalToken: issued.token,
      portalUrl: portalLink(config.portalUrl, issued.token),
    };
  });
  return {
    organizationId: org,
    apiKey: DEMO_API_KEY,
    portalUrl: config.portalUrl,
    portalTokenExpiresAt: expiresAt.toISOString(),
    customers: demoCustomers,
    creditPackIds: packs.map((k) => k.id),
  };
}

/** Human-readable lines for the start script. */
export function formatDemoData(demo: DemoData): string[] {
  return [
    `Demo organization ${demo.organizationId}`,
    `  admin API key (local only): ${demo.apiKey}`,
    `  e.g. curl -H 'Authorization: Bearer ${demo.apiKey}' ${demo.portalUrl}/v1/credit-packs`,
    `Portal links (valid until ${demo.portalTokenExpiresAt}):`,
    ...demo.customers.map((c) => `  ${c.name} — ${c.scenario}\n    ${c.portalUrl}`),
  ];
}
