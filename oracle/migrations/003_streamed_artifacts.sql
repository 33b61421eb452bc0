-- Artifacts are written as streams: to a file in the data directory (artifacts.file) or, with no
-- data directory, as 1 MiB chunks in artifact_chunks. Rows from before keep their text in
-- artifacts.body and stay readable.
alter table artifacts alter column body drop not null;
alter table artifacts add column size bigint;
alter table artifacts add column file text;
create table artifact_chunks (
  hash text not null,
  seq integer not null,
  data bytea not null,
  primary key (hash, seq)
);
-- What the API and the next epoch read instead of a result held as JSON text: a summary (JSON)
-- and the cumulative leaves, 84 bytes per account (account, cumulative amount, earned this epoch).
alter table epochs add column summary text;
alter table epochs add column leaves bytea;
