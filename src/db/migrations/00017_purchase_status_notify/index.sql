-- The portal's checkout and cancel answers wait for a purchase's status to change (src/purchases/wait.ts).
-- Instead of re-reading the row every 50 ms they LISTEN on one channel (one connection per portal
-- process, src/purchases/purchase-changes.ts): every change of a purchase's status, whoever writes it,
-- sends a NOTIFY whose payload is the purchase id alone (a few dozen bytes; the waiter re-reads the
-- row). The notification is delivered when the transaction commits, so a waiter woken by it reads the
-- new status. A notification can be lost (the listener reconnecting, Postgres restarting): waiters
-- re-read on a slow timer too, so a lost one only delays an answer.

create function purchases_notify_status() returns trigger language plpgsql as $$
begin
  perform pg_notify('credit_pack_purchase_status', new.id);
  return null;
end
$$;

create trigger purchases_notify_status after update of status on purchases
  for each row when (new.status is distinct from old.status) execute function purchases_notify_status();
