-- Events and webhook endpoints (docs/api.md, "Events and webhook endpoints").
--
-- Events are an outbox written by the database itself: a trigger on purchases records one event per
-- transition into each listed status (and per partial refund, and when a dispute opens) in the very
-- transaction that changes the row, whoever writes it (the workflow's status writes, the grant, the
-- refund and dispute code, the webhook receiver). So an event is never lost (it commits with the
-- change) and never duplicated (a repeated write of the same status changes nothing). The same
-- transaction fans the event out to the organization's endpoints that want its type: one
-- event_deliveries row each, which the worker's dispatcher turns into one delivery workflow each.

create table webhook_endpoints (
  id               text primary key check (id ~ '^we_[A-Za-z0-9]{8,64}$'),
  organization_id  text not null references organizations (id),
  url              text not null check (length(url) between 1 and 2048 and url ~ '^https?://'),
  -- the event types it receives (all of them when created without a list)
  event_types      text[] not null check (cardinality(event_types) >= 1),
  -- signs every delivery (HMAC-SHA256); shown once, at creation
  secret           text not null check (secret ~ '^whsec_[A-Za-z0-9]{16,128}$'),
  created_at       timestamptz not null default now(),
  -- deleted endpoints receive nothing more; their rows stay for the deliveries' history
  deleted_at       timestamptz
);
create index webhook_endpoints_org_idx on webhook_endpoints (organization_id, created_at, id);

create table events (
  id               text primary key check (id ~ '^evt_[A-Za-z0-9]{8,64}$'),
  -- the order of recording (the list is newest first)
  seq              bigint generated always as identity unique,
  organization_id  text not null references organizations (id),
  type             text not null check (type in (
                     'purchase.completed', 'purchase.failed', 'purchase.refunded', 'purchase.canceled',
                     'purchase.expired', 'purchase.ineligible', 'purchase.requires_action',
                     'purchase.awaiting_payment_method', 'purchase.partially_refunded', 'purchase.disputed',
                     'auto_top_up.paused')),
  purchase_id      text references purchases (id),
  customer_id      text,
  -- purchase events: the purchases row as it was right after the transition (the API renders it as the
  -- admin purchase); other events: their data as delivered
  purchase_row     jsonb,
  data             jsonb,
  created_at       timestamptz not null default clock_timestamp(),
  check ((purchase_row is null) <> (data is null)),
  check ((type like 'purchase.%') = (purchase_id is not null and purchase_row is not null))
);
create index events_org_seq_idx on events (organization_id, seq desc);
create index events_org_type_seq_idx on events (organization_id, type, seq desc);
create index events_purchase_idx on events (purchase_id, seq) where purchase_id is not null;

-- Events are history: never edited, never deleted.
create function events_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'events are immutable (% refused)', tg_op
    using errcode = 'restrict_violation', constraint = 'events_immutable';
end
$$;
create trigger events_no_update before update or delete on events
  for each row execute function events_immutable();

create table event_deliveries (
  event_id             text not null references events (id),
  endpoint_id          text not null references webhook_endpoints (id),
  organization_id      text not null,
  status               text not null default 'pending' check (status in ('pending', 'delivered', 'failed', 'canceled')),
  -- when the dispatcher started its workflow (null: not yet)
  workflow_started_at  timestamptz,
  attempts             integer not null default 0 check (attempts >= 0),
  last_attempt_at      timestamptz,
  last_status_code     integer,
  last_error           text check (length(last_error) <= 500),
  delivered_at         timestamptz,
  created_at           timestamptz not null default clock_timestamp(),
  primary key (event_id, endpoint_id)
);
create index event_deliveries_unstarted_idx on event_deliveries (created_at) where workflow_started_at is null;
create index event_deliveries_endpoint_idx on event_deliveries (endpoint_id) where status = 'pending';

-- Records one event and its deliveries; callable from any writer (auto top-up pauses will use it).
create function record_event(
  p_organization_id text, p_type text, p_purchase_id text, p_customer_id text,
  p_purchase_row jsonb, p_data jsonb
) returns text language plpgsql as $$
declare
  event_id text := 'evt_' || replace(gen_random_uuid()::text, '-', '');
  fanned integer;
begin
  insert into events (id, organization_id, type, purchase_id, customer_id, purchase_row, data)
  values (event_id, p_organization_id, p_type, p_purchase_id, p_customer_id, p_purchase_row, p_data);
  insert into event_deliveries (event_id, endpoint_id, organization_id)
  select event_id, e.id, e.organization_id
    from webhook_endpoints e
   where e.organization_id = p_organization_id and e.deleted_at is null and p_type = any (e.event_types);
  get diagnostics fanned = row_count;
  if fanned > 0 then
    perform pg_notify('credit_pack_event_deliveries', event_id);
  end if;
  return event_id;
end
$$;

create function purchases_record_events() returns trigger language plpgsql as $$
declare
  snapshot jsonb := to_jsonb(new);
begin
  -- A transition into one of the listed statuses. Completed counts once: a purchase that comes back
  -- to completed (a refund that failed after all) was completed already.
  if (tg_op = 'INSERT' or new.status is distinct from old.status)
     and new.status in ('completed', 'failed', 'refunded', 'canceled', 'expired', 'ineligible',
                        'requires_action', 'awaiting_payment_method')
     and not (new.status = 'completed' and exists (
               select 1 from events where purchase_id = new.id and type = 'purchase.completed')) then
    perform record_event(new.organization_id, 'purchase.' || new.status, new.id, new.customer_id, snapshot, null);
  end if;
  if tg_op = 'UPDATE' then
    -- A refund that leaves part of the price standing (pending or succeeded).
    if new.refunded_amount_cents > old.refunded_amount_cents and new.refunded_amount_cents < new.price_cents then
      perform record_event(new.organization_id, 'purchase.partially_refunded', new.id, new.customer_id, snapshot, null);
    end if;
    -- A dispute opened on the purchase's charge (one per purchase).
    if old.stripe_dispute_id is null and new.stripe_dispute_id is not null then
      perform record_event(new.organization_id, 'purchase.disputed', new.id, new.customer_id, snapshot, null);
    end if;
  end if;
  return null;
end
$$;

create trigger purchases_record_events after insert or update on purchases
  for each row execute function purchases_record_events();
