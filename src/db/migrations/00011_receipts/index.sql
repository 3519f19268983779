-- Receipts (docs/api.md, "Receipts"): numbered per organization from 1, increasing and gapless, assigned
-- when a purchase first reaches completed, in that transaction. The number comes from a counter row
-- per organization (not a sequence: a sequence skips numbers on rollback); the row's lock serializes
-- concurrent completions of one organization for the rest of their (short) transactions.

-- The pack's name as the customer bought it (a pack renamed later keeps the receipt's line).
alter table purchases add column pack_name text check (length(pack_name) between 1 and 100);
update purchases p set pack_name = c.name from credit_packs c where c.id = p.credit_pack_id;
-- Writers that do not name it (older code, SQL fixtures) get the pack's current name.
create function purchases_snapshot_pack_name() returns trigger language plpgsql as $$
begin
  if new.pack_name is null then
    select name into new.pack_name from credit_packs where id = new.credit_pack_id;
  end if;
  return new;
end
$$;
create trigger purchases_snapshot_pack_name before insert on purchases
  for each row execute function purchases_snapshot_pack_name();
alter table purchases alter column pack_name set not null;

create table receipt_counters (
  organization_id  text primary key references organizations (id),
  last_number      integer not null check (last_number >= 1)
);

create table receipts (
  purchase_id      text primary key references purchases (id),
  organization_id  text not null references organizations (id),
  number           integer not null check (number >= 1),
  issued_at        timestamptz not null default now(),
  -- the card charged, read from Stripe when the receipt is first shown (null until then)
  card_brand       text check (length(card_brand) <= 50),
  card_last4       text check (card_last4 ~ '^[0-9]{4}$'),
  unique (organization_id, number)
);

create function purchases_issue_receipt() returns trigger language plpgsql as $$
declare
  issued integer;
begin
  if new.status = 'completed' and (tg_op = 'INSERT' or old.status is distinct from 'completed')
     and not exists (select 1 from receipts where purchase_id = new.id) then
    insert into receipt_counters (organization_id, last_number) values (new.organization_id, 1)
    on conflict (organization_id) do update set last_number = receipt_counters.last_number + 1
    returning last_number into issued;
    insert into receipts (purchase_id, organization_id, number) values (new.id, new.organization_id, issued);
  end if;
  return null;
end
$$;
create trigger purchases_issue_receipt after insert or update of status on purchases
  for each row execute function purchases_issue_receipt();
