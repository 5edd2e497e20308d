-- Deliveries waiting for the full-text index. FTS5 writes a segment at
-- every savepoint, and the writer runs each delivery in its own savepoint,
-- so indexing one delivery at a time made thousands of tiny segments to
-- merge. Insert queues the delivery here instead (text says whether its
-- body is UTF-8); the store's indexer moves the queue into deliveries_fts
-- in large batches, and a search first indexes what is still queued.
CREATE TABLE fts_pending (
	seq  INTEGER PRIMARY KEY,
	text INTEGER NOT NULL
);

CREATE TRIGGER fts_pending_delete AFTER DELETE ON deliveries BEGIN
	DELETE FROM fts_pending WHERE seq = old.seq;
END;
