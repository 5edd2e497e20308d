-- Delivery ids are random and the buffer never looks one up: their unique
-- index only cost a write to a random page for every delivery. The unused
-- acked column (see 0003) goes with it. SQLite cannot drop a UNIQUE
-- constraint in place, so the table is rebuilt.
CREATE TABLE deliveries_v4 (
	channel     TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	id          TEXT    NOT NULL,
	received_at INTEGER NOT NULL, -- unix microseconds
	method      TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	query       TEXT    NOT NULL DEFAULT '',
	header      BLOB    NOT NULL, -- JSON object of arrays
	body        BLOB,
	remote_addr TEXT    NOT NULL DEFAULT '',
	host        TEXT    NOT NULL DEFAULT '',
	proto       TEXT    NOT NULL DEFAULT 'http',
	PRIMARY KEY (channel, seq)
) WITHOUT ROWID;

INSERT INTO deliveries_v4 (channel, seq, id, received_at, method, path, query, header, body, remote_addr, host, proto)
	SELECT channel, seq, id, received_at, method, path, query, header, body, remote_addr, host, proto FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_received_at ON deliveries(received_at);
