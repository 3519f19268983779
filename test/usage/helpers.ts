// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { Sql } from '../../src/db/client';
import { randomBase62 } from '../../src/db/ids';
import { grantPurchaseCredits } from '../../src/db/ledger';
import { checkInvariants, formatReport } from '../../src/invariants';
import { type Answer, call, insertPurchase, newPack, ok, type World } from '../catalog/helpers';

/** A completed purchase of `credits` purchased credits, granted through the ledger's own grant. */
export async function buyCredits(
  app: FastifyInstance,
  sql: Sql,
  w: World,
  customerId: string,
  credits: number,
): Promise<string> {
  const pack = await newPack(app, w, { credits, price: 1000 });
  const purchaseId = await insertPurchase(sql, { orgId: w.orgId, customerId, pack, status: 'crediting' });
  await grantPurchaseCredits(sql, purchaseId, 'test-run');
  return purchaseId;
}

export const balanceOf = (app: FastifyInstance, w: World, customerId: string) =>
  ok(app, 'GET', `/v1/customers/${customerId}/balance`, { token: w.apiKey });

export function useCredits(
  app: FastifyInstance,
  w: World,
  customerId: string,
  body: unknown,
  key: string | null = `use-${randomBase62(12)}`,
): Promise<Answer> {
  return call(app, 'POST', `/v1/customers/${customerId}/usage`, {
    token: w.apiKey,
    body,
    ...(key === null ? {} : { headers: { 'idempotency-key': key } }),
  });
}

/** The invariant checker over the organization (no Stripe: the ledger-side invariants). */
export async function expectOrgInvariants(sql: Sql, w: World): Promise<void> {
  const report = await checkInvariants(
    { sql, stripe: null },
    { organizationId: w.orgId, purchaseDeadlineMs: 5 * 60 * 1000 },
  );
  expect(report.violations, formatReport(report)).toEqual([]);
}

/** The customer's ledger entries of one kind, oldest first, as [bucket, credits]. */
export async function entries(sql: Sql, customerId: string, kind: string): Promise<[string, number][]> {
  const rows = await sql<{ bucket: string; credits: string }[]>`
    select bucket, credits::text from credit_ledger where customer_id = ${customerId} and kind = ${kind} order by id`;
  return rows.map((r) => [r.bucket, Number(r.credits)]);
}
