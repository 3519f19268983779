import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSql, type Sql } from '../../src/db/client';
import { requestBodyHash } from '../../src/db/idempotency';
import { recordUsage } from '../../src/db/usage';
import { type RunFigures, timed } from './measure';
import { type PgbenchFigures, runPgbench } from './pgbench';

/**
 * Usage (POST /v1/customers/{id}/usage's transaction, issue 18 item 1) through the product's code
 * (`recordUsage`: the Idempotency-Key claimed, the customer locked, the buckets summed, one usage entry,
 * the answer stored, the auto top-up looked at) against a pgbench script of the same statements, at the
 * same client count, each client on a customer of its own (one customer's usage is serialised by its
 * lock, by design). Both sides start from equal ledgers: fresh customers with one plan grant each.
 */

const STARTING_CREDITS = 1_000_000_000;

async function usageCustomers(sql: Sql, orgId: string, count: number): Promise<string[]> {
  const ids = Array.from(
    { length: count },
    () => `cus_benchusage${randomUUID().replaceAll('-', '').slice(0, 20)}`,
  );
  await sql`
    insert into customers (id, organization_id, email, name)
    select id, ${orgId}, 'usage-bench@example.com', 'Usage bench'
      from unnest(${ids}::text[]) as id`;
  await sql`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description)
    select ${orgId}, id, 'plan', 'plan_grant', ${STARTING_CREDITS}, 'Usage bench allowance'
      from unnest(${ids}::text[]) as id`;
  return ids;
}

export async function benchUsage(options: {
  sql: Sql;
  databaseUrl: string;
  orgId: string;
  count: number;
  clients: number;
  scriptDir: string;
  log: (line: string) => void;
}): Promise<{ clients: number; product: RunFigures; pgbench: PgbenchFigures | null }> {
  const { sql, orgId, clients, log } = options;
  const ours = createSql(options.databaseUrl, { maxConnections: clients, applicationName: 'bench-usage' });
  let product: RunFigures;
  try {
    const customers = await usageCustomers(sql, orgId, clients);
    product = await timed(clients, options.count, async (lane) => {
      const customerId = customers[lane]!;
      const requestPath = `/v1/customers/${customerId}/usage`;
      const answer = await recordUsage(
        ours,
        {
          organizationId: orgId,
          customerId,
          credits: 1,
          idempotencyKey: `bench-usage-${randomUUID()}`,
          requestPath,
          requestHash: requestBodyHash({ credits: 1 }),
        },
        { now: new Date() },
      );
      return answer.statusCode === 200 ? 'used' : `status ${answer.statusCode}`;
    });
  } finally {
    await ours.end({ timeout: 5 });
  }
  log(
    `usage (product code) C=${clients}: ${product.perSecond.toFixed(0)}/s p50 ${product.p50Ms.toFixed(1)} ms`,
  );

  // pgbench: the statements recordUsage sends for a customer with no auto top-up, client n on customer n
  // (one lookup statement before each transaction picks the customer and a fresh key: pgbench's handicap).
  const customers = await usageCustomers(sql, orgId, clients);
  await sql`drop table if exists bench_usage_customers`;
  await sql`create table bench_usage_customers (n int primary key, id text not null)`;
  await sql`insert into bench_usage_customers select n - 1, id from unnest(${customers}::text[]) with ordinality as t(id, n)`;
  await sql`drop sequence if exists bench_usage_seq`;
  await sql`create sequence bench_usage_seq`;
  const scriptPath = join(options.scriptDir, 'usage.pgbench');
  writeFileSync(
    scriptPath,
    `select id as cid, '/v1/customers/' || id || '/usage' as path, 'bench-usage-pg-' || nextval('bench_usage_seq') as k from bench_usage_customers where n = :client_id \\gset
begin;
insert into api_idempotency_keys (organization_id, idempotency_key, request_path, request_hash) values ('${orgId}', :k, :path, '${requestBodyHash({ credits: 1 })}') on conflict do nothing returning idempotency_key;
select id from customers where organization_id = '${orgId}' and id = :cid and deleted_at is null for update;
select coalesce(sum(credits) filter (where bucket = 'plan'), 0)::text as plan, coalesce(sum(credits) filter (where bucket = 'purchased'), 0)::text as purchased from credit_ledger where organization_id = '${orgId}' and customer_id = :cid;
insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description) values ('${orgId}', :cid, 'plan', 'usage', -1, 'Usage (Idempotency-Key ' || :k || ')');
update api_idempotency_keys set status_code = 200, response = '{"planCredits":1,"purchasedCredits":0,"total":1}'::jsonb where organization_id = '${orgId}' and idempotency_key = :k;
select * from auto_top_ups where organization_id = '${orgId}' and customer_id = :cid for update;
commit;
`,
  );
  const pgbench = runPgbench({
    databaseUrl: options.databaseUrl,
    scriptPath,
    clients,
    transactionsPerClient: Math.floor(options.count / clients),
    log,
  });
  log(`usage (pgbench) C=${clients}: ${JSON.stringify(pgbench)}`);
  await sql`drop table if exists bench_usage_customers`;
  await sql`drop sequence if exists bench_usage_seq`;
  return { clients, product, pgbench };
}
