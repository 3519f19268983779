import type { TransactionSql } from 'postgres';
import type { CreditPackFacts, PackVisibility } from '../domain/catalog';
import { AppError } from '../domain/errors';
import type { Sql } from './client';
import { isUniqueViolation } from './errors';
import { newId } from './ids';

/** The credit-pack catalog of an organization (admin side). Every query is scoped by organization. */

export interface CreditPack {
  id: string;
  name: string;
  description: string | null;
  credits: number;
  price: number;
  currency: 'usd';
  visibility: PackVisibility;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreditPackRow {
  id: string;
  organization_id: string;
  name: string;
  description: string | null;
  credits: number;
  price_cents: number;
  currency: 'usd';
  visibility: 'all_credits_plans' | 'plans';
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
  plan_ids: string[];
}

const iso = (d: Date): string => d.toISOString();

export function rowVisibility(r: Pick<CreditPackRow, 'visibility' | 'plan_ids'>): PackVisibility {
  return r.visibility === 'all_credits_plans'
    ? { type: 'all_credits_plans' }
    : { type: 'plans', planIds: r.plan_ids };
}

export const toCreditPack = (r: CreditPackRow): CreditPack => ({
  id: r.id,
  name: r.name,
  description: r.description,
  credits: r.credits,
  price: r.price_cents,
  currency: r.currency,
  visibility: rowVisibility(r),
  archived: r.archived_at !== null,
  archivedAt: r.archived_at ? iso(r.archived_at) : null,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export const toCreditPackFacts = (r: CreditPackRow): CreditPackFacts => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  credits: r.credits,
  priceCents: r.price_cents,
  currency: r.currency,
  visibility: rowVisibility(r),
  archived: r.archived_at !== null,
});

/** Pack rows with their listed plan ids (empty for all_credits_plans). */
export function selectPacks(sql: Sql) {
  return sql`
    select p.*,
           coalesce((select array_agg(c.plan_id order by c.plan_id)
                       from credit_pack_plans c where c.credit_pack_id = p.id), '{}') as plan_ids
      from credit_packs p`;
}

export interface CreditPackInput {
  name: string;
  description?: string | null | undefined;
  credits: number;
  price: number;
  visibility: PackVisibility;
}

const nameTaken = (name: string) =>
  new AppError(
    'credit_pack_name_taken',
    `A credit pack named "${name}" already exists in this organization.`,
  );

/** Listed plans must be plans of this organization on the credits model. */
async function checkVisibilityPlans(
  sql: TransactionSql,
  organizationId: string,
  visibility: PackVisibility,
): Promise<string[]> {
  if (visibility.type !== 'plans') return [];
  const planIds = [...new Set(visibility.planIds)];
  const rows = await sql<{ id: string; consumption_model: string }[]>`
    select id, consumption_model from plans where organization_id = ${organizationId} and id in ${sql(planIds)}`;
  const found = new Map(rows.map((r) => [r.id, r.consumption_model]));
  for (const id of planIds) {
    const model = found.get(id);
    if (model === undefined) throw new AppError('plan_not_found', `No plan ${id}.`);
    if (model !== 'credits') {
      throw new AppError(
        'plan_not_credits_based',
        `Plan ${id} is not credits-based; packs are offered only to credits plans.`,
      );
    }
  }
  return planIds;
}

export async function createCreditPack(
  sql: Sql,
  organizationId: string,
  input: CreditPackInput,
): Promise<CreditPack> {
  const id = newId('creditPack');
  try {
    await sql.begin(async (tx) => {
      const planIds = await checkVisibilityPlans(tx, organizationId, input.visibility);
      await tx`
        insert into credit_packs (id, organization_id, name, description, credits, price_cents, currency, visibility)
        values (${id}, ${organizationId}, ${input.name}, ${input.description ?? null}, ${input.credits},
                ${input.price}, 'usd', ${input.visibility.type})`;
      if (planIds.length > 0) {
        await tx`
          insert into credit_pack_plans ${tx(planIds.map((planId) => ({ organization_id: organizationId, credit_pack_id: id, plan_id: planId })))}`;
      }
    });
  } catch (error) {
    if (isUniqueViolation(error, 'credit_packs_org_name_key')) throw nameTaken(input.name);
    throw error;
  }
  return getCreditPack(sql, organizationId, id);
}

export async function listCreditPacks(
  sql: Sql,
  organizationId: string,
  filter: { archived?: boolean | undefined } = {},
): Promise<CreditPack[]> {
  const rows = await sql<CreditPackRow[]>`
    ${selectPacks(sql)}
    where p.organization_id = ${organizationId}
      ${filter.archived === undefined ? sql`` : filter.archived ? sql`and p.archived_at is not null` : sql`and p.archived_at is null`}
    order by p.created_at, p.id`;
  return rows.map(toCreditPack);
}

export async function getCreditPack(sql: Sql, organizationId: string, id: string): Promise<CreditPack> {
  const [row] = await sql<CreditPackRow[]>`
    ${selectPacks(sql)} where p.organization_id = ${organizationId} and p.id = ${id}`;
  if (!row) throw new AppError('credit_pack_not_found', `No credit pack ${id}.`);
  return toCreditPack(row);
}

export async function updateCreditPack(
  sql: Sql,
  organizationId: string,
  id: string,
  patch: Partial<CreditPackInput>,
): Promise<CreditPack> {
  try {
    await sql.begin(async (tx) => {
      const [current] = await tx<{ archived_at: Date | null }[]>`
        select archived_at from credit_packs where organization_id = ${organizationId} and id = ${id} for update`;
      if (!current) throw new AppError('credit_pack_not_found', `No credit pack ${id}.`);
      if (current.archived_at)
        throw new AppError('credit_pack_archived', 'An archived credit pack cannot be changed.');

      const set: Record<string, unknown> = {};
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.credits !== undefined) set.credits = patch.credits;
      if (patch.price !== undefined) set.price_cents = patch.price;
      if (patch.visibility !== undefined) set.visibility = patch.visibility.type;
      if (Object.keys(set).length > 0) {
        await tx`update credit_packs set ${tx(set)} where organization_id = ${organizationId} and id = ${id}`;
      }
      if (patch.visibility !== undefined) {
        const planIds = await checkVisibilityPlans(tx, organizationId, patch.visibility);
        await tx`delete from credit_pack_plans where credit_pack_id = ${id}`;
        if (planIds.length > 0) {
          await tx`
            insert into credit_pack_plans ${tx(planIds.map((planId) => ({ organization_id: organizationId, credit_pack_id: id, plan_id: planId })))}`;
        }
      }
    });
  } catch (error) {
    if (isUniqueViolation(error, 'credit_packs_org_name_key')) throw nameTaken(patch.name ?? '');
    throw error;
  }
  return getCreditPack(sql, organizationId, id);
}

/** Archive (idempotent): no new purchases; the row and its history stay. */
export async function archiveCreditPack(sql: Sql, organizationId: string, id: string): Promise<CreditPack> {
  await sql`
    update credit_packs set archived_at = now()
    where organization_id = ${organizationId} and id = ${id} and archived_at is null`;
  return getCreditPack(sql, organizationId, id);
}

/** What a checkout snapshots of a pack (per unit): only a pack that is not archived can be bought. */
export async function getCreditPackSnapshot(
  sql: Sql,
  ids: { organizationId: string; creditPackId: string },
): Promise<{ name: string; credits: number; priceCents: number } | null> {
  const [pack] = await sql<{ name: string; credits: number; priceCents: number }[]>`
    select name, credits, price_cents as "priceCents" from credit_packs
     where organization_id = ${ids.organizationId} and id = ${ids.creditPackId} and archived_at is null`;
  return pack ?? null;
}
