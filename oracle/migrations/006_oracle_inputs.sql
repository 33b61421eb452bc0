-- What a network's services contribute to an epoch besides challenges (compute: the spot-checker's
-- verdicts), one canonical-JSON row each; the closer puts them in the artifact as the network's
-- oracle inputs, in id order.
create table oracle_inputs (
  id bigserial primary key,
  network text not null,
  epoch bigint not null,
  input text not null
);
create index oracle_inputs_by_epoch on oracle_inputs (network, epoch, id);
