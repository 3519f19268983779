-- Plan credits per subscription period (docs/api.md "Plan credits, balance and usage").
--
-- A subscription counts its periods: current_period starts at 1 when it is created and
-- POST /v1/subscriptions/{id}/renew adds one. A subscription on a credits plan that is active or
-- trialing holds one plan_grant of the plan's includedCredits per period (granted at creation, at the
-- move to active/trialing, or at the renewal), and each renewal expires what was left of the plan
-- bucket (one plan_expiry of the period that ended, never below zero). Both carry the subscription and
-- its period, and a unique index makes each at most once per period, whoever asks twice.
-- Plan grants written before this migration (demo data) carry neither.

alter table subscriptions
  add column current_period integer not null default 1 check (current_period >= 1);

alter table credit_ledger
  add column subscription_id text,
  add column subscription_period integer check (subscription_period >= 1),
  add constraint credit_ledger_subscription_fk
    foreign key (organization_id, subscription_id) references subscriptions (organization_id, id),
  add constraint credit_ledger_period_shape check (
    (subscription_id is null) = (subscription_period is null)
    and (subscription_id is null or kind in ('plan_grant', 'plan_expiry')));

create unique index credit_ledger_one_plan_grant_per_period
  on credit_ledger (subscription_id, subscription_period)
  where kind = 'plan_grant' and subscription_id is not null;
create unique index credit_ledger_one_plan_expiry_per_period
  on credit_ledger (subscription_id, subscription_period)
  where kind = 'plan_expiry' and subscription_id is not null;
