-- The follower keeps the hash of each batch's last block, to see a reorg or a rolled-back chain.
alter table chain_cursor add column hash text;
create table chain_blocks (
  number bigint primary key,
  hash text not null
);
