-- The credit ledger: immutable, signed entries in two buckets that never mix.
--   plan       credits included with the plan, granted per period and reset each period (plan_expiry)
--   purchased  credits bought in packs; they never expire
-- Balances are a view over the ledger (credit_balances), so they cannot disagree with it.

create table credit_ledger (
  id                bigint generated always as identity primary key,
  organization_id   text not null,
  customer_id       text not null,
  bucket            text not null check (bucket in ('plan', 'purchased')),
  kind              text not null check (kind in ('purchase_grant', 'plan_grant', 'plan_expiry', 'usage', 'reversal')),
  credits           bigint not null check (credits <> 0),
  purchase_id       text,
  reverses_entry_id bigint references credit_ledger (id),
  description       text check (length(description) <= 500),
  created_at        timestamptz not null default now(),
  foreign key (organization_id, customer_id) references customers (organization_id, id),
  -- a purchase's credits can only go to the customer who bought them
  foreign key (purchase_id, organization_id, customer_id) references purchases (id, organization_id, customer_id),
  constraint credit_ledger_kind_shape check (
    case kind
      when 'purchase_grant' then bucket = 'purchased' and credits > 0 and purchase_id is not null
      when 'plan_grant'     then bucket = 'plan' and credits > 0 and purchase_id is null
      when 'plan_expiry'    then bucket = 'plan' and credits < 0 and purchase_id is null
      when 'usage'          then credits < 0 and purchase_id is null
      when 'reversal'       then credits < 0 and (purchase_id is not null or reverses_entry_id is not null)
    end
  )
);
-- Exactly-once crediting: at most one grant, and at most one reversal, per purchase.
create unique index credit_ledger_one_grant_per_purchase
  on credit_ledger (purchase_id) where kind = 'purchase_grant';
create unique index credit_ledger_one_reversal_per_purchase
  on credit_ledger (purchase_id) where kind = 'reversal' and purchase_id is not null;
create unique index credit_ledger_one_reversal_per_entry
  on credit_ledger (reverses_entry_id) where reverses_entry_id is not null;
create index credit_ledger_customer_idx on credit_ledger (organization_id, customer_id, bucket);

-- A purchase grant credits exactly what the purchase bought.
create function credit_ledger_check_grant() returns trigger language plpgsql as $$
declare
  bought integer;
begin
  if new.kind = 'purchase_grant' then
    select credits into bought from purchases where id = new.purchase_id;
    if bought is distinct from new.credits then
      raise exception 'purchase grant of % credits does not match purchase % (% credits)',
        new.credits, new.purchase_id, bought
        using errcode = 'check_violation', constraint = 'credit_ledger_grant_matches_purchase';
    end if;
  elsif new.kind = 'reversal' and new.purchase_id is not null then
    if new.bucket <> 'purchased' or -new.credits > (select credits from purchases where id = new.purchase_id) then
      raise exception 'reversal of purchase % exceeds its credits', new.purchase_id
        using errcode = 'check_violation', constraint = 'credit_ledger_reversal_bounded';
    end if;
  end if;
  return new;
end
$$;
create trigger credit_ledger_check_grant before insert on credit_ledger
  for each row execute function credit_ledger_check_grant();

-- Entries are immutable: corrections are new entries (reversals), never edits or deletes.
create function credit_ledger_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'credit_ledger entries are immutable (% refused)', tg_op
    using errcode = 'restrict_violation', constraint = 'credit_ledger_immutable';
end
$$;
create trigger credit_ledger_no_update before update or delete on credit_ledger
  for each row execute function credit_ledger_immutable();
create trigger credit_ledger_no_truncate before truncate on credit_ledger
  for each statement execute function credit_ledger_immutable();

create view credit_balances as
  select organization_id,
         customer_id,
         coalesce(sum(credits) filter (where bucket = 'plan'), 0)::bigint      as plan_credits,
         coalesce(sum(credits) filter (where bucket = 'purchased'), 0)::bigint as purchased_credits,
         coalesce(sum(credits), 0)::bigint                                    as total_credits
    from credit_ledger
   group by organization_id, customer_id;
