-- Refunds and disputes as part of the business record (docs/api.md#contract-additions).
--
-- A purchase's charge can be refunded several times, in part or in full: by an operator
-- (POST /v1/purchases/{id}/refunds), by the purchase's own compensation, or in Stripe directly
-- (charge.refunded). Each refund is a row here; the purchase keeps the running totals
-- (refunded_amount_cents: pending and succeeded refunds; credits_reversed_by_refunds =
-- floor(credits × refunded / price) once the credits were granted), written in the same transaction
-- as the refund row and the ledger entries that move the credits. A dispute holds back
-- floor(credits × disputed / price) credits while it is open or lost; won gives them back.

create table refunds (
  id                 text primary key check (id ~ '^ref_[A-Za-z0-9]{8,64}$'),
  organization_id    text not null,
  customer_id        text not null,
  purchase_id        text not null,
  amount_cents       integer not null check (amount_cents > 0),
  -- the increase of the purchase's reversed credits this refund caused when it was created
  credits_reversed   integer not null default 0 check (credits_reversed >= 0),
  reason             text check (reason in ('requested_by_customer', 'duplicate', 'fraudulent')),
  status             text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  -- who made it: an operator through the API, the purchase's compensation, or someone in Stripe
  source             text not null check (source in ('admin', 'compensation', 'stripe')),
  stripe_refund_id   text unique check (stripe_refund_id ~ '^re_[A-Za-z0-9_]+$'),
  failure_reason     text check (length(failure_reason) <= 200),
  workflow_id        text unique,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  foreign key (purchase_id, organization_id, customer_id) references purchases (id, organization_id, customer_id),
  -- the API's own refunds are created before Stripe knows them; the others come from Stripe
  check (source = 'admin' or stripe_refund_id is not null)
);
create index refunds_purchase_idx on refunds (purchase_id, created_at, id);
create trigger refunds_touch before update on refunds
  for each row execute function touch_updated_at();

alter table purchases
  add column trigger text not null default 'portal' check (trigger in ('portal', 'auto_top_up', 'admin')),
  add column refunded_amount_cents integer not null default 0,
  add column credits_reversed_by_refunds integer not null default 0,
  add column dispute_status text check (dispute_status in ('open', 'won', 'lost')),
  add column dispute_amount_cents integer check (dispute_amount_cents > 0),
  add column dispute_credits_held integer not null default 0,
  add column stripe_dispute_id text unique check (stripe_dispute_id ~ '^(dp|du)_[A-Za-z0-9_]+$'),
  -- never more refunded than paid, never more credits taken back than bought
  add constraint purchases_refund_bounded check (refunded_amount_cents between 0 and price_cents),
  add constraint purchases_reversal_bounded check (
    credits_reversed_by_refunds >= 0 and dispute_credits_held >= 0
    and credits_reversed_by_refunds + dispute_credits_held <= credits),
  add constraint purchases_dispute_shape check ((dispute_status is null) = (dispute_amount_cents is null));

-- Purchases refunded before this migration were refunded in full (the compensation, or a full refund
-- after completion, whose one reversal took back every credit).
update purchases set refunded_amount_cents = price_cents where status = 'refunded';
update purchases p set credits_reversed_by_refunds = p.credits
 where p.status = 'refunded'
   and exists (select 1 from credit_ledger l where l.purchase_id = p.id and l.kind = 'reversal');

-- The ledger gains the entries that move credits for refunds and disputes. A purchase may now have
-- several reversals (one per refund), each tied to its refund; a failed refund's credits come back as
-- a restore entry.
alter table credit_ledger add column refund_id text references refunds (id);
drop index credit_ledger_one_reversal_per_purchase;
create unique index credit_ledger_one_reversal_per_refund
  on credit_ledger (refund_id, kind) where refund_id is not null;
alter table credit_ledger drop constraint credit_ledger_kind_check;
alter table credit_ledger add constraint credit_ledger_kind_check check (kind in (
  'purchase_grant', 'plan_grant', 'plan_expiry', 'usage', 'reversal',
  'reversal_restore', 'dispute_hold', 'dispute_release'));
alter table credit_ledger drop constraint credit_ledger_kind_shape;
alter table credit_ledger add constraint credit_ledger_kind_shape check (
  case kind
    when 'purchase_grant'   then bucket = 'purchased' and credits > 0 and purchase_id is not null
    when 'plan_grant'       then bucket = 'plan' and credits > 0 and purchase_id is null
    when 'plan_expiry'      then bucket = 'plan' and credits < 0 and purchase_id is null
    when 'usage'            then credits < 0 and purchase_id is null
    when 'reversal'         then credits < 0 and (purchase_id is not null or reverses_entry_id is not null)
    when 'reversal_restore' then bucket = 'purchased' and credits > 0 and purchase_id is not null
    when 'dispute_hold'     then bucket = 'purchased' and credits < 0 and purchase_id is not null
    when 'dispute_release'  then bucket = 'purchased' and credits > 0 and purchase_id is not null
  end
);

-- A purchase's credit movements stay within what it bought: what is taken back (reversals and
-- dispute holds, net of restores and releases) is never negative and never above its credits.
create or replace function credit_ledger_check_grant() returns trigger language plpgsql as $$
declare
  bought integer;
  taken bigint;
begin
  if new.kind = 'purchase_grant' then
    select credits into bought from purchases where id = new.purchase_id;
    if bought is distinct from new.credits then
      raise exception 'purchase grant of % credits does not match purchase % (% credits)',
        new.credits, new.purchase_id, bought
        using errcode = 'check_violation', constraint = 'credit_ledger_grant_matches_purchase';
    end if;
  elsif new.kind in ('reversal', 'reversal_restore', 'dispute_hold', 'dispute_release') and new.purchase_id is not null then
    select credits into bought from purchases where id = new.purchase_id;
    select coalesce(-sum(credits), 0) into taken from credit_ledger
     where purchase_id = new.purchase_id
       and kind in ('reversal', 'reversal_restore', 'dispute_hold', 'dispute_release');
    taken := taken - new.credits;
    if new.bucket <> 'purchased' or taken < 0 or taken > bought then
      raise exception 'credit movement of % on purchase % leaves % taken back of % bought',
        new.credits, new.purchase_id, taken, bought
        using errcode = 'check_violation', constraint = 'credit_ledger_reversal_bounded';
    end if;
  end if;
  return new;
end
$$;

-- A refund that Stripe reports succeeded and later fails gives the credits back: a purchase refunded
-- in full returns to completed then. Every other settled purchase stays settled.
create or replace function purchases_guard_and_log() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    if new.status = old.status then
      return new;
    end if;
    if old.status in ('ineligible', 'expired', 'failed', 'canceled')
       or (old.status = 'completed' and new.status <> 'refunded')
       or (old.status = 'refunded' and not (new.status = 'completed' and new.refunded_amount_cents < new.price_cents
                                            and exists (select 1 from credit_ledger
                                                         where purchase_id = new.id and kind = 'purchase_grant'))) then
      raise exception 'purchase % is % and cannot become %', old.id, old.status, new.status
        using errcode = 'check_violation', constraint = 'purchases_terminal_status';
    end if;
  end if;
  insert into purchase_transitions (purchase_id, from_status, to_status, failure_code)
  values (new.id, case when tg_op = 'UPDATE' then old.status end, new.status, new.failure_code);
  return new;
end
$$;

-- Keys of the admin API's idempotent POSTs (refunds, and usage later), per organization, kept at least
-- 24 h: the same key, path and body answer the first answer again; anything else with it is refused.
create table api_idempotency_keys (
  organization_id  text not null references organizations (id),
  idempotency_key  text not null check (length(idempotency_key) between 1 and 255),
  request_path     text not null,
  request_hash     text not null check (request_hash ~ '^[0-9a-f]{64}$'),
  status_code      integer,
  response         jsonb,
  created_at       timestamptz not null default now(),
  primary key (organization_id, idempotency_key)
);

-- What the webhook receiver did with refund and dispute events.
alter table stripe_events drop constraint stripe_events_outcome_check;
alter table stripe_events add constraint stripe_events_outcome_check check (outcome in (
  'received', 'signaled', 'ignored', 'unmatched', 'purchase_settled', 'workflow_closed',
  'credits_reversed', 'partial_refund_review', 'refunds_synced', 'dispute_opened', 'dispute_closed'));
