-- What the purchase workflow needs beyond the catalog's schema.

-- Customers are deleted softly (their purchases and ledger entries are history that must stay).
-- A deleted customer cannot be credited: a purchase charged meanwhile is refunded.
alter table customers add column deleted_at timestamptz;

-- Stripe's decline code (insufficient_funds, generic_decline…) of a declined purchase, beside
-- failure_code = 'card_declined', so support can tell declines apart without Stripe's dashboard.
alter table purchases add column failure_decline_code text check (length(failure_decline_code) <= 100);
