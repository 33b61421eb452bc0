-- Reports are stored as the canonical JSON ingest already computed (the preimage of their digest):
-- as text, PostgreSQL does not re-parse and re-serialise every report as jsonb on the ingest path.
alter table reports alter column report type text using report::text;
-- Nothing reads reports by device (the API's per-device view comes from epoch results and the
-- refusal log); one index fewer to maintain on every insert.
drop index if exists reports_by_device;
