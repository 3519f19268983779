-- Keys and sessions (docs/api.md#keys-and-sessions--served).
--
-- An organization's API key can be rotated: the new key becomes organizations.api_key_hash (the
-- current key); the one it replaces keeps working until valid_until (24 h, or at once when revoked).
create table organization_previous_api_keys (
  organization_id  text not null references organizations (id),
  key_hash         text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  key_hint         text not null,
  valid_until      timestamptz not null,
  replaced_at      timestamptz not null default now()
);
create index organization_previous_api_keys_org_idx on organization_previous_api_keys (organization_id);

-- Portal sessions: a token issued by POST /v1/portal-sessions names its session (pss_…), which an
-- operator can revoke; a revoked session's token is refused from then on, whatever its expiry.
create table portal_sessions (
  id               text primary key check (id ~ '^pss_[A-Za-z0-9]{8,64}$'),
  organization_id  text not null,
  customer_id      text not null,
  expires_at       timestamptz not null,
  revoked_at       timestamptz,
  created_at       timestamptz not null default now(),
  foreign key (organization_id, customer_id) references customers (organization_id, id)
);
create index portal_sessions_customer_idx on portal_sessions (organization_id, customer_id);
