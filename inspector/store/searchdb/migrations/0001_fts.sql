-- The full-text index over request headers and bodies, in a file of its own
-- next to the store (see the store's migration 0006): it has its own
-- writer, so indexing runs beside the store's writes instead of between
-- them. Contentless (rowid = the delivery's seq); rows come from the
-- store's fts_pending queue, INSERT OR REPLACE, so indexing a queued
-- delivery twice (after a crash) is harmless.
CREATE VIRTUAL TABLE deliveries_fts USING fts5(
	header_text,
	body_text,
	content = '',
	contentless_delete = 1
);

-- Merge segments 32 at a time, at once only from 64 (see the store's
-- migration 0005).
INSERT INTO deliveries_fts(deliveries_fts, rank) VALUES ('automerge', 32);
INSERT INTO deliveries_fts(deliveries_fts, rank) VALUES ('crisismerge', 64);

-- The store this index belongs to (its meta 'search_id'). A store that
-- finds no index, or one it does not own (left next to a new store of the
-- same name), empties it and queues every delivery for it again.
CREATE TABLE owner (id TEXT NOT NULL);
