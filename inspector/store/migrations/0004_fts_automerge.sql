-- Merge the full-text index's segments less eagerly (8 per level instead of
-- 4): merging was half of the indexing work at a million deliveries, and
-- searches walk the index newest first and stop early, so a few more
-- segments cost them little.
INSERT INTO deliveries_fts(deliveries_fts, rank) VALUES ('automerge', 8);
