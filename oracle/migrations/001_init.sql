-- Groundwork oracle schema. One set of migrations for PGlite (embedded) and PostgreSQL.
-- Amounts are numeric and times are unix milliseconds (bigint); both are read back as text.

create table chain_cursor (
  name text primary key,
  block bigint not null
);

-- The registry as the chain follower last saw it.
create table devices (
  device text primary key,
  network text not null,
  key_x text not null,
  key_y text not null,
  owner text not null,
  stake numeric not null default 0,
  unstaking numeric not null default 0,
  slashed numeric not null default 0,
  location text,
  registered_at bigint not null,
  registered_block bigint not null
);
create index devices_by_owner on devices (owner);

-- Ownership history, so an epoch's snapshot names the owner as of its snapshot block.
create table device_transfers (
  block bigint not null,
  log_index integer not null,
  device text not null,
  from_addr text not null,
  to_addr text not null,
  primary key (block, log_index)
);
create index device_transfers_by_device on device_transfers (device, block);

-- Every registry event, for the API's device history.
create table device_events (
  block bigint not null,
  log_index integer not null,
  device text not null,
  kind text not null,
  data jsonb not null,
  primary key (block, log_index)
);
create index device_events_by_device on device_events (device);

create table credit_spends (
  block bigint not null,
  log_index integer not null,
  block_time bigint not null,
  account text not null,
  spender text not null,
  network text not null,
  device text not null,
  credits numeric not null,
  primary key (block, log_index)
);
create index credit_spends_by_time on credit_spends (block_time);

create table claims (
  block bigint not null,
  log_index integer not null,
  account text not null,
  amount numeric not null,
  cumulative numeric not null,
  root text not null,
  primary key (block, log_index)
);
create index claims_by_account on claims (account);

create table posted_roots (
  epoch integer primary key,
  root text not null,
  total numeric not null,
  artifact_hash text not null,
  block bigint not null,
  tx_hash text not null
);

-- Accepted device reports: written before the ack, never changed.
create table reports (
  digest text primary key,
  network text not null,
  device text not null,
  epoch integer not null,
  type text not null,
  report jsonb not null,
  received_at bigint not null
);
create index reports_by_epoch on reports (network, epoch);
create index reports_by_device on reports (device, epoch);

-- Inputs ingest refused that named a registered device (capped per device and epoch).
create table ingest_rejections (
  id bigserial primary key,
  network text not null,
  device text not null,
  epoch integer not null,
  digest text,
  reason text not null,
  detail text not null,
  at bigint not null
);
create index ingest_rejections_by_device on ingest_rejections (device, epoch);

-- Challenges the oracle issued (written before they are sent).
create table challenges (
  network text not null,
  device text not null,
  epoch integer not null,
  nonce text not null,
  issued_at bigint not null,
  deadline bigint not null,
  primary key (device, nonce)
);
create index challenges_by_epoch on challenges (network, epoch);

-- Epoch close, one row per epoch, advanced one step at a time:
-- scored -> artifact -> signed -> posted (or empty when nobody has earned anything yet).
create table epochs (
  epoch integer primary key,
  state text not null,
  snapshot_block bigint,
  inputs text,
  result text,
  artifact_hash text,
  root text,
  total numeric,
  signatures text,
  tx_hash text,
  updated_at bigint not null
);

create table artifacts (
  hash text primary key,
  epoch integer not null,
  body text not null
);

create table oracle_state (
  key text primary key,
  value text not null
);
