-- Every delivery the relay accepted, per channel, in order (seq).
CREATE TABLE deliveries (
	channel     TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	id          TEXT    NOT NULL UNIQUE,
	received_at INTEGER NOT NULL, -- unix microseconds
	method      TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	query       TEXT    NOT NULL DEFAULT '',
	header      BLOB    NOT NULL, -- JSON object of arrays
	body        BLOB,
	remote_addr TEXT    NOT NULL DEFAULT '',
	host        TEXT    NOT NULL DEFAULT '',
	proto       TEXT    NOT NULL DEFAULT 'http',
	acked       INTEGER NOT NULL DEFAULT 0, -- 1 once any agent acked it
	PRIMARY KEY (channel, seq)
) WITHOUT ROWID;

CREATE INDEX deliveries_received_at ON deliveries(received_at);
CREATE INDEX deliveries_unacked ON deliveries(channel, seq) WHERE acked = 0;

-- How far each agent has acknowledged, per channel: it resumes after seq.
CREATE TABLE cursors (
	channel    TEXT    NOT NULL,
	agent_id   TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (channel, agent_id)
) WITHOUT ROWID;
