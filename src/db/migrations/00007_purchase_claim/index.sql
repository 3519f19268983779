-- The workflow run that drives a purchase. Claimed once, by the first activity of the first run, while
-- the purchase is still pending: a later run (a restart after the closed run left Temporal's retention,
-- a reset, an operator's mistake) cannot claim it and touches nothing, so a settled purchase is never
-- charged, credited or refunded a second time.
alter table purchases add column workflow_run_id text check (length(workflow_run_id) <= 100);
