-- Purchases: the business record of one credit-pack purchase (one Temporal workflow execution each).
-- Quantities, credits and price are snapshotted at checkout, so editing or archiving a pack never
-- changes what a purchase charged or granted.

create table purchases (
  id                        text primary key check (id ~ '^pur_[A-Za-z0-9]{8,64}$'),
  organization_id           text not null,
  customer_id               text not null,
  credit_pack_id            text not null,
  quantity                  integer not null check (quantity between 1 and 1000),
  unit_credits              integer not null check (unit_credits > 0),
  unit_price_cents          integer not null check (unit_price_cents > 0),
  -- totals = quantity x the pack's snapshot
  credits                   integer not null check (credits > 0),
  price_cents               integer not null check (price_cents > 0),
  currency                  text not null default 'usd' check (currency = 'usd'),
  status                    text not null default 'pending' check (status in (
                              'pending', 'awaiting_payment_method', 'charging', 'requires_action', 'crediting',
                              'completed', 'ineligible', 'expired', 'failed', 'refunded', 'canceled')),
  -- what the portal must do next: { "type": "add_payment_method" | "authenticate", "clientSecret": "…" }
  next_action               jsonb check (next_action is null or jsonb_typeof(next_action) = 'object'),
  failure_code              text,
  failure_message           text,
  stripe_setup_intent_id    text,
  stripe_payment_intent_id  text unique,
  stripe_refund_id          text unique,
  -- the checkout's Idempotency-Key header and the sha256 of the request body it first came with
  idempotency_key           text not null check (length(idempotency_key) between 1 and 255),
  request_hash              text not null check (request_hash ~ '^[0-9a-f]{64}$'),
  workflow_id               text unique,
  created_at                timestamptz not null default now(),
  updated_at                timestamptz not null default now(),
  check (credits = quantity * unit_credits),
  check (price_cents = quantity * unit_price_cents),
  check ((failure_code is null) = (failure_message is null)),
  foreign key (organization_id, customer_id) references customers (organization_id, id),
  foreign key (organization_id, credit_pack_id) references credit_packs (organization_id, id),
  unique (organization_id, customer_id, idempotency_key),
  -- target of the ledger's foreign key: a purchase grant can only credit the purchasing customer
  unique (id, organization_id, customer_id)
);
create index purchases_org_created_idx on purchases (organization_id, created_at desc);
create index purchases_customer_created_idx on purchases (customer_id, created_at desc);
create index purchases_org_status_idx on purchases (organization_id, status);

create trigger purchases_touch before update on purchases
  for each row execute function touch_updated_at();

-- Every status change, written by the database itself so no code path can skip it.
create table purchase_transitions (
  id               bigint generated always as identity primary key,
  purchase_id      text not null references purchases (id),
  from_status      text,
  to_status        text not null,
  failure_code     text,
  created_at       timestamptz not null default now()
);
create index purchase_transitions_purchase_idx on purchase_transitions (purchase_id, id);

create function purchases_guard_and_log() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    if new.status = old.status then
      return new;
    end if;
    -- A settled purchase stays settled; the one exception is a completed purchase refunded afterwards.
    if old.status in ('ineligible', 'expired', 'failed', 'refunded', 'canceled')
       or (old.status = 'completed' and new.status <> 'refunded') then
      raise exception 'purchase % is % and cannot become %', old.id, old.status, new.status
        using errcode = 'check_violation', constraint = 'purchases_terminal_status';
    end if;
  end if;
  insert into purchase_transitions (purchase_id, from_status, to_status, failure_code)
  values (new.id, case when tg_op = 'UPDATE' then old.status end, new.status, new.failure_code);
  return new;
end
$$;

create trigger purchases_status_log after insert or update of status on purchases
  for each row execute function purchases_guard_and_log();
