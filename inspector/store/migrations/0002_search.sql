-- Full-text search over request headers and bodies. Contentless: the text
-- lives in deliveries already, so the index keeps only tokens (rowid = seq).
-- Rows are added by the store in the same transaction as the delivery
-- (bodies only when they are UTF-8 text); deletes follow by trigger.
CREATE VIRTUAL TABLE deliveries_fts USING fts5(
	header_text,
	body_text,
	content = '',
	contentless_delete = 1
);

INSERT INTO deliveries_fts(rowid, header_text, body_text)
	SELECT seq, CAST(header AS TEXT), CAST(body AS TEXT) FROM deliveries;

CREATE TRIGGER deliveries_fts_delete AFTER DELETE ON deliveries BEGIN
	DELETE FROM deliveries_fts WHERE rowid = old.seq;
END;

-- "2xx", "5xx": an equality on the class keeps the newest-first page an
-- index walk in seq order (a range on status would need a sort).
CREATE INDEX deliveries_status_class ON deliveries(status / 100);
