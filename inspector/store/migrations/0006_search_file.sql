-- The full-text index moves to a file of its own (searchdb/migrations):
-- with its own writer, indexing runs on another core beside the store's
-- writes. Deletes reach it from Prune, as no trigger can cross files. The
-- store queues every delivery again for the new index when it opens (see
-- Store.claimIndex).
DROP TRIGGER deliveries_fts_delete;
DROP TABLE deliveries_fts;
