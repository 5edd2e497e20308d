CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per webhook request, as it arrived. seq is the local order.
CREATE TABLE deliveries (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	channel     TEXT    NOT NULL DEFAULT '',
	relay_seq   INTEGER NOT NULL DEFAULT 0,
	received_at INTEGER NOT NULL, -- unix microseconds
	method      TEXT    NOT NULL,
	path        TEXT    NOT NULL DEFAULT '', -- suffix after /h/{channel}, escaped
	query       TEXT    NOT NULL DEFAULT '',
	header      BLOB    NOT NULL,            -- JSON object of arrays
	body        BLOB,
	remote_addr TEXT    NOT NULL DEFAULT '',
	host        TEXT    NOT NULL DEFAULT '',
	proto       TEXT    NOT NULL DEFAULT '',
	object_type TEXT    NOT NULL DEFAULT '',
	action      TEXT    NOT NULL DEFAULT '',
	entity_id   TEXT    NOT NULL DEFAULT '',
	object_id   TEXT    NOT NULL DEFAULT '',
	event_id    TEXT    NOT NULL DEFAULT '',
	scheme      TEXT    NOT NULL DEFAULT '',
	signature   TEXT    NOT NULL DEFAULT 'unsigned',
	signature_reason TEXT NOT NULL DEFAULT '',
	-- The latest attempt, kept here so that lists need no join.
	status      INTEGER,                     -- NULL: not forwarded yet; 0: no HTTP answer
	error       TEXT    NOT NULL DEFAULT '',
	duration_us INTEGER,
	attempts    INTEGER NOT NULL DEFAULT 0,
	target      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_received_at ON deliveries(received_at);
CREATE INDEX deliveries_object_type ON deliveries(object_type);
CREATE INDEX deliveries_action ON deliveries(action);
CREATE INDEX deliveries_entity_id ON deliveries(entity_id);
CREATE INDEX deliveries_status ON deliveries(status);

-- Every time a delivery was sent to an app: the first forward, each replay
-- and each resend.
CREATE TABLE attempts (
	id              INTEGER PRIMARY KEY,
	delivery_seq    INTEGER NOT NULL REFERENCES deliveries(seq) ON DELETE CASCADE,
	kind            TEXT    NOT NULL, -- forward | replay | resend
	target          TEXT    NOT NULL,
	started_at      INTEGER NOT NULL, -- unix microseconds
	duration_us     INTEGER NOT NULL,
	request_header  BLOB,             -- NULL: the delivery's own
	request_body    BLOB,             -- NULL: the delivery's own
	status          INTEGER NOT NULL DEFAULT 0,
	response_header BLOB,
	response_body   BLOB,
	error           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts(delivery_seq);
