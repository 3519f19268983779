-- Purchases completed before the event trigger (00010) and the receipt trigger (00011) existed: their
-- purchase.completed event and their receipt, so every purchase that ever completed has exactly one of
-- each (docs/invariants.md). Receipts are numbered after the organization's counter, in the order the
-- purchases completed; backfilled events carry the purchase as it is now and are delivered nowhere.
lock table receipts, receipt_counters in share row exclusive mode;
with completions as (
  select purchase_id, min(created_at) as completed_at from purchase_transitions
   where to_status = 'completed' group by purchase_id
)
insert into events (id, organization_id, type, purchase_id, customer_id, purchase_row, created_at)
select 'evt_' || replace(gen_random_uuid()::text, '-', ''), p.organization_id, 'purchase.completed', p.id,
       p.customer_id, to_jsonb(p), c.completed_at
  from completions c
  join purchases p on p.id = c.purchase_id
 where not exists (select 1 from events e where e.purchase_id = p.id and e.type = 'purchase.completed')
 order by c.completed_at, p.id;

with completions as (
  select purchase_id, min(created_at) as completed_at from purchase_transitions
   where to_status = 'completed' group by purchase_id
), missing as (
  select p.id, p.organization_id, c.completed_at,
         row_number() over (partition by p.organization_id order by c.completed_at, p.id) as n
    from completions c
    join purchases p on p.id = c.purchase_id
   where not exists (select 1 from receipts r where r.purchase_id = p.id)
)
insert into receipts (purchase_id, organization_id, number, issued_at)
select m.id, m.organization_id, coalesce(rc.last_number, 0) + m.n, m.completed_at
  from missing m
  left join receipt_counters rc on rc.organization_id = m.organization_id;

insert into receipt_counters (organization_id, last_number)
select organization_id, max(number) from receipts group by organization_id
on conflict (organization_id) do update set last_number = excluded.last_number;
