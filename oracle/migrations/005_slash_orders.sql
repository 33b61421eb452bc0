-- Slashing on evidence: one row per slash order, the closer's finding turned into what
-- SlashOrders.propose takes. Inserted with its epoch's row (the same transaction), so an epoch
-- recorded always has its orders; then advanced one step at a time, each step persisted:
--   found -> signed -> proposed -> executed | skipped | vetoed
-- order_id is the order's id on chain (the EIP-712 struct hash of its fields), so a step that
-- was done on chain before a crash is found there, never done twice.
create table slash_orders (
  order_id text primary key,
  epoch integer not null,
  network text not null,
  -- The device's 32-byte id as the artifact writes it; the chain's deviceId is the same number.
  device text not null,
  kind text not null,
  amount numeric not null,
  evidence_hash text not null,
  artifact_hash text not null,
  signatures text,
  state text not null,
  -- Unix seconds (chain time) from which the order may be executed, as the chain has it.
  executable_at bigint,
  propose_tx text,
  execute_tx text,
  -- The last error proposing or executing it (null once a step succeeds).
  last_error text,
  updated_at bigint not null
);
create index slash_orders_by_epoch on slash_orders (epoch);
create index slash_orders_by_state on slash_orders (state);
