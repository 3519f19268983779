import { AppError } from '../domain/errors';
import type { Sql } from './client';
import { apiKeyHint, newApiKey, newId, sha256Hex } from './ids';

/**
 * Organization API keys and portal sessions (migration 00014). Keys are stored as sha256 only; the
 * key itself is shown once, when it is made.
 */

/** How long a rotated-out API key keeps working, unless revoked at once. */
export const ROTATED_KEY_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * The organization an API key belongs to: its current key, or one rotated out less than
 * ROTATED_KEY_GRACE_MS ago (and not revoked). Null for any other string.
 */
export async function organizationOfApiKey(sql: Sql, apiKey: string): Promise<{ id: string } | null> {
  const hash = sha256Hex(apiKey);
  const [row] = await sql<{ id: string }[]>`
    select id from organizations where api_key_hash = ${hash}
    union all
    select organization_id as id from organization_previous_api_keys
     where key_hash = ${hash} and valid_until > now()
    limit 1`;
  return row ?? null;
}

/**
 * Makes a new API key the organization's current one and returns it (shown this once). The key it
 * replaces keeps working for ROTATED_KEY_GRACE_MS, or stops at once with `revokeOldNow` — which also
 * ends the grace of keys rotated out before. One transaction, the organization row locked, so two
 * rotations at once both take effect in order.
 */
export function rotateApiKey(
  sql: Sql,
  organizationId: string,
  { revokeOldNow }: { revokeOldNow: boolean },
): Promise<{ apiKey: string }> {
  return sql.begin(async (tx) => {
    const [current] = await tx<{ hash: string; hint: string }[]>`
      select api_key_hash as hash, api_key_hint as hint from organizations where id = ${organizationId} for update`;
    if (!current) throw new AppError('unauthorized', 'Invalid API key.');
    const apiKey = newApiKey();
    if (revokeOldNow) {
      await tx`update organization_previous_api_keys set valid_until = now()
                where organization_id = ${organizationId} and valid_until > now()`;
    } else {
      await tx`
        insert into organization_previous_api_keys (organization_id, key_hash, key_hint, valid_until)
        values (${organizationId}, ${current.hash}, ${current.hint},
                now() + ${`${ROTATED_KEY_GRACE_MS} milliseconds`}::interval)`;
    }
    await tx`
      update organizations set api_key_hash = ${sha256Hex(apiKey)}, api_key_hint = ${apiKeyHint(apiKey)}
       where id = ${organizationId}`;
    return { apiKey };
  });
}

/** Records a portal session for a customer; its id goes into the token it is issued with. */
export async function createPortalSession(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
  expiresAt: Date,
): Promise<{ id: string }> {
  const id = newId('portalSession');
  await sql`
    insert into portal_sessions (id, organization_id, customer_id, expires_at)
    values (${id}, ${ids.organizationId}, ${ids.customerId}, ${expiresAt})`;
  return { id };
}

/** Revokes a session of the organization (idempotent); 404 portal_session_not_found for any other id. */
export async function revokePortalSession(
  sql: Sql,
  ids: { organizationId: string; sessionId: string },
): Promise<{ id: string; revokedAt: string }> {
  const [row] = await sql<{ id: string; revokedAt: Date }[]>`
    update portal_sessions set revoked_at = coalesce(revoked_at, now())
     where organization_id = ${ids.organizationId} and id = ${ids.sessionId}
    returning id, revoked_at as "revokedAt"`;
  if (!row) throw new AppError('portal_session_not_found', `No portal session ${ids.sessionId}.`);
  return { id: row.id, revokedAt: row.revokedAt.toISOString() };
}

/**
 * Whether a portal request may proceed: the customer exists (not deleted) and, for a token that names
 * its session, the session is not revoked. One query per request.
 */
export async function portalSessionIsLive(
  sql: Sql,
  claims: { organizationId: string; customerId: string; sessionId: string | null },
): Promise<boolean> {
  const [row] = await sql<{ live: boolean }[]>`
    select exists (
      select 1 from customers
       where organization_id = ${claims.organizationId} and id = ${claims.customerId} and deleted_at is null
    ) and (
      ${claims.sessionId}::text is null or exists (
        select 1 from portal_sessions
         where id = ${claims.sessionId} and organization_id = ${claims.organizationId}
           and customer_id = ${claims.customerId} and revoked_at is null)
    ) as live`;
  return row?.live === true;
}
