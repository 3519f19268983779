-- Auto top-up's per-customer workflow (ARCHITECTURE.md, "Auto top-up"): Postgres decides, a long-lived
-- workflow per customer (autoTopUpWorkflow) starts the owed top-up and mirrors the state into search
-- attributes. Each change of a customer's auto top-up bumps `version`; the workflow's activity records the
-- version it mirrored. A row whose version is not the mirrored one (its signal lost: Temporal away, a
-- crash after the commit) is signaled again by the worker's sweep once `changed_at` is old enough.

alter table auto_top_ups
  add column version          bigint not null default 1,
  add column changed_at       timestamptz not null default now(),
  -- the version the customer's workflow last mirrored (null: never)
  add column mirrored_version bigint;

-- Every write bumps the version, but the mirror's own (which changes mirrored_version and nothing else).
create function auto_top_ups_bump_version() returns trigger language plpgsql as $$
begin
  if new.mirrored_version is distinct from old.mirrored_version then
    return new;
  end if;
  new.version := old.version + 1;
  new.changed_at := now();
  return new;
end
$$;
create trigger auto_top_ups_version before update on auto_top_ups
  for each row execute function auto_top_ups_bump_version();

create index auto_top_ups_unmirrored_idx on auto_top_ups (changed_at)
  where mirrored_version is distinct from version;
