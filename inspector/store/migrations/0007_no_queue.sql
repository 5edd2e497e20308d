-- The full-text index's writer now walks deliveries past its own
-- watermark (searchdb/migrations/0002) instead of a queue that every
-- delivery wrote a row to and the index emptied again.
DROP TRIGGER fts_pending_delete;
DROP TABLE fts_pending;
