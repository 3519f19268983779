import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import { AppError } from '../domain/errors';

/**
 * The Idempotency-Key of the admin API's POSTs (refunds, usage), in `api_idempotency_keys` (migration
 * 00009): claimed in the request's own transaction, its answer stored in that same transaction, so a
 * request that fails leaves the key unused and one that succeeds answers every repeat with its first
 * answer. A second request with the key while the first is in flight waits on the key's row.
 */

export interface IdempotentRequest {
  organizationId: string;
  idempotencyKey: string;
  /** the request's path and the sha256 of its body, stored with the key */
  requestPath: string;
  requestHash: string;
}

export type IdempotencyClaim =
  | { claimed: true }
  /** the key was used before for this same request: its first answer */
  | { claimed: false; statusCode: number; response: unknown };

/** sha256 (hex) of a request body's canonical JSON (the caller fixes the key order). */
export function requestBodyHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/**
 * Claims the key for this request, or finds its first answer. The same key with another path or body:
 * 409 idempotency_key_reused.
 */
export async function claimIdempotencyKey(
  tx: postgres.TransactionSql,
  request: IdempotentRequest,
): Promise<IdempotencyClaim> {
  const [claimed] = await tx`
    insert into api_idempotency_keys (organization_id, idempotency_key, request_path, request_hash)
    values (${request.organizationId}, ${request.idempotencyKey}, ${request.requestPath}, ${request.requestHash})
    on conflict do nothing
    returning idempotency_key`;
  if (claimed) return { claimed: true };
  const [earlier] = await tx<
    { request_path: string; request_hash: string; status_code: number; response: unknown }[]
  >`
    select request_path, request_hash, status_code, response from api_idempotency_keys
     where organization_id = ${request.organizationId} and idempotency_key = ${request.idempotencyKey}
       for update`;
  if (
    !earlier ||
    earlier.request_path !== request.requestPath ||
    earlier.request_hash !== request.requestHash
  ) {
    throw new AppError(
      'idempotency_key_reused',
      'This Idempotency-Key was already used for a different request.',
    );
  }
  return { claimed: false, statusCode: earlier.status_code, response: earlier.response };
}

/** Stores the answer of a claimed key (in the transaction that claimed it). */
export async function recordIdempotentAnswer(
  tx: postgres.TransactionSql,
  request: Pick<IdempotentRequest, 'organizationId' | 'idempotencyKey'>,
  statusCode: number,
  response: unknown,
): Promise<void> {
  await tx`
    update api_idempotency_keys set status_code = ${statusCode}, response = ${tx.json(response as never)}
     where organization_id = ${request.organizationId} and idempotency_key = ${request.idempotencyKey}`;
}
