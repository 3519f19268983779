-- A completed purchase whose charge is refunded in full afterwards (from Stripe's dashboard, or a
-- support refund) loses its credits: the webhook receiver writes the purchase's one reversal entry and
-- moves the purchase to refunded, in the event's transaction. Record that as an outcome of the event.
alter table stripe_events drop constraint stripe_events_outcome_check;
alter table stripe_events add constraint stripe_events_outcome_check check (outcome in (
  'received', 'signaled', 'ignored', 'unmatched', 'purchase_settled', 'workflow_closed',
  'credits_reversed', 'partial_refund_review'));
