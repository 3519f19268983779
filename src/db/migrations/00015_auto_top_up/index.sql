-- Auto top-up (docs/auto-top-up.md): a customer's settings, the one-in-progress guard, and what a
-- top-up's outcome does to its settings (decline count, pauses), each with the auto_top_up.paused event.
--
-- The top-up purchase itself is an ordinary purchases row (trigger 'auto_top_up'), inserted in the very
-- transaction whose usage, reversal or saved settings took the total below the threshold: that row is the
-- durable trigger (the outbox). Its workflow is started right after the commit, or by the worker's sweep
-- of unstarted purchases when Temporal was away.

create table auto_top_ups (
  organization_id       text not null,
  customer_id           text not null,
  enabled               boolean not null,
  threshold_credits     integer not null check (threshold_credits >= 0),
  credit_pack_id        text not null,
  quantity              integer not null check (quantity >= 1),
  -- cents a UTC calendar month's completed or in-progress auto top-ups may add up to
  monthly_limit_cents   integer not null check (monthly_limit_cents >= 0),
  -- null: not paused; a PUT clears it; monthly_limit lifts by itself when paused_at's UTC month is over
  paused_reason         text check (paused_reason in ('card_declined', 'monthly_limit', 'pack_unavailable',
                          'not_eligible', 'no_payment_method', 'authentication_required')),
  paused_at             timestamptz,
  -- auto top-ups in a row that ended failed with a decline (3 pause it; a completed one resets it)
  consecutive_declines  integer not null default 0 check (consecutive_declines >= 0),
  -- numbers the top-ups' purchases (their idempotency key auto_top_up:<n>), never reused
  top_ups_started       integer not null default 0 check (top_ups_started >= 0),
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  primary key (organization_id, customer_id),
  foreign key (organization_id, customer_id) references customers (organization_id, id),
  foreign key (organization_id, credit_pack_id) references credit_packs (organization_id, id),
  check ((paused_reason is null) = (paused_at is null))
);
create index auto_top_ups_paused_idx on auto_top_ups (organization_id) where paused_reason is not null;
create trigger auto_top_ups_touch before update on auto_top_ups
  for each row execute function touch_updated_at();

-- Never two at once: at most one auto top-up purchase of a customer is in flight.
create unique index purchases_one_auto_top_up_in_flight on purchases (organization_id, customer_id)
  where trigger = 'auto_top_up'
    and status in ('pending', 'awaiting_payment_method', 'charging', 'requires_action', 'crediting');

-- The settings as the API shows them (at the moment of writing: a monthly_limit pause reads paused).
create function auto_top_up_json(t auto_top_ups) returns jsonb language sql stable as $$
  select jsonb_build_object(
    'enabled', t.enabled,
    'thresholdCredits', t.threshold_credits,
    'creditPackId', t.credit_pack_id,
    'quantity', t.quantity,
    'monthlyLimit', t.monthly_limit_cents,
    'state', case when not t.enabled then 'off' when t.paused_reason is not null then 'paused' else 'active' end,
    'pausedReason', case when t.enabled then t.paused_reason end)
$$;

-- Pauses an enabled auto top-up for a reason and records auto_top_up.paused, once per pause: nothing
-- happens when it is off, or already paused for that reason (a monthly_limit pause of an earlier UTC
-- month has lifted, so it pauses again). True when it paused.
create function pause_auto_top_up(p_organization_id text, p_customer_id text, p_reason text, p_at timestamptz)
returns boolean language plpgsql as $$
declare
  t auto_top_ups;
begin
  update auto_top_ups
     set paused_reason = p_reason, paused_at = p_at
   where organization_id = p_organization_id and customer_id = p_customer_id and enabled
     and (paused_reason is distinct from p_reason
          or (p_reason = 'monthly_limit'
              and date_trunc('month', paused_at at time zone 'UTC') < date_trunc('month', p_at at time zone 'UTC')))
  returning * into t;
  if not found then
    return false;
  end if;
  perform record_event(p_organization_id, 'auto_top_up.paused', null, p_customer_id, null,
                       jsonb_build_object('customerId', p_customer_id, 'autoTopUp', auto_top_up_json(t)));
  return true;
end
$$;

-- What an auto top-up's outcome does to its settings, in the transaction of the purchase's status
-- change, whoever writes it: completed resets the decline count; failed with a decline counts one (the
-- third in a row pauses: card_declined); failed with authentication_required or no_payment_method, and
-- ineligible, pause with their reason.
create function purchases_settle_auto_top_up() returns trigger language plpgsql as $$
declare
  declines integer;
  reason text;
begin
  if new.trigger <> 'auto_top_up' or new.status is not distinct from old.status then
    return null;
  end if;
  if new.status = 'completed' then
    update auto_top_ups set consecutive_declines = 0
     where organization_id = new.organization_id and customer_id = new.customer_id
       and consecutive_declines <> 0;
  elsif new.status = 'failed' and new.failure_code = 'card_declined' then
    update auto_top_ups set consecutive_declines = consecutive_declines + 1
     where organization_id = new.organization_id and customer_id = new.customer_id and enabled
    returning consecutive_declines into declines;
    if declines >= 3 then
      reason := 'card_declined';
    end if;
  elsif new.status = 'failed' and new.failure_code in ('authentication_required', 'no_payment_method') then
    reason := new.failure_code;
  elsif new.status = 'ineligible' then
    reason := case when new.failure_code in ('credit_pack_not_found', 'credit_pack_archived', 'pack_not_visible')
                   then 'pack_unavailable' else 'not_eligible' end;
  end if;
  if reason is not null then
    perform pause_auto_top_up(new.organization_id, new.customer_id, reason, now());
  end if;
  return null;
end
$$;

create trigger purchases_settle_auto_top_up after update of status on purchases
  for each row execute function purchases_settle_auto_top_up();
