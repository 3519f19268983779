import type postgres from 'postgres';

/**
 * Takes back a completed purchase's credits because its charge was refunded after completion: the
 * purchase's reversal ledger entry (at most one per purchase, by a unique index; bounded by the
 * purchase's credits, by trigger) and the move completed → refunded, in the caller's transaction.
 * Idempotent: a purchase not completed, or already reversed, is left as it is. Returns whether it acted.
 */
export async function reverseRefundedPurchase(
  tx: postgres.TransactionSql,
  { purchaseId, refundId }: { purchaseId: string; refundId: string | null },
): Promise<boolean> {
  const [purchase] = await tx<{ id: string }[]>`
    select id from purchases where id = ${purchaseId} and status = 'completed' for update`;
  if (!purchase) return false;
  await tx`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
    select organization_id, customer_id, 'purchased', 'reversal', -credits, id,
           ${`Refund after completion of purchase ${purchaseId}`}
      from purchases where id = ${purchaseId}
    on conflict (purchase_id) where kind = 'reversal' and purchase_id is not null do nothing`;
  await tx`
    update purchases set
      status = 'refunded',
      failure_code = 'refunded_after_completion',
      failure_message = 'The payment was refunded after the credits were granted, so the credits were taken back.',
      stripe_refund_id = coalesce(${refundId}, stripe_refund_id)
     where id = ${purchaseId} and status = 'completed'`;
  return true;
}
