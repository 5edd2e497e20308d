-- Agents' positions live in cursors; the per-delivery acked flag is no
-- longer written, and its partial index only cost every insert.
DROP INDEX IF EXISTS deliveries_unacked;
