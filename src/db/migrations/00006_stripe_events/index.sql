-- Stripe webhook events, one row per event id: the receiver records an event here before acting on it,
-- so a duplicate delivery (Stripe delivers at least once) is acknowledged and never applied twice.
-- The row is written in the same transaction as the action's bookkeeping: if acting fails (Temporal
-- unreachable) the receiver answers 5xx, the row is rolled back, and Stripe's retry applies the event.

create table stripe_events (
  id                text primary key check (id ~ '^evt_[A-Za-z0-9_]{1,255}$'),
  type              text not null check (length(type) between 1 and 200),
  -- the event's own `created` (Stripe's clock), and whether it came from live mode
  event_created_at  timestamptz not null,
  livemode          boolean not null default false,
  -- data.object.id: the SetupIntent, PaymentIntent… the event is about
  object_id         text check (length(object_id) <= 255),
  -- the purchase it was matched to (metadata.purchase_id, else the purchase holding object_id), if any
  purchase_id       text references purchases (id),
  -- what the receiver did: signaled the purchase's workflow; ignored a type it does not act on; found no
  -- purchase; found the purchase settled; found its workflow already closed
  outcome           text not null default 'received' check (outcome in (
                      'received', 'signaled', 'ignored', 'unmatched', 'purchase_settled', 'workflow_closed')),
  -- how many times Stripe delivered it (duplicates are counted, not applied)
  deliveries        integer not null default 1 check (deliveries >= 1),
  payload           jsonb not null,
  received_at       timestamptz not null default now(),
  last_received_at  timestamptz not null default now()
);
create index stripe_events_purchase_idx on stripe_events (purchase_id) where purchase_id is not null;
create index stripe_events_received_idx on stripe_events (received_at desc);
