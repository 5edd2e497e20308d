-- The provider emulator's state: subscriptions (and legacy webhook
-- settings), events, one delivery per event and subscription, and every
-- attempt of each delivery. Times are unix microseconds.
CREATE TABLE subscriptions (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,           -- 'subscription' or 'setting'
	object_type TEXT NOT NULL,
	url         TEXT NOT NULL,
	event_types TEXT NOT NULL,           -- JSON array of strings
	status      TEXT NOT NULL,           -- 'enabled' or 'disabled'
	secret      TEXT NOT NULL,
	api_version TEXT NOT NULL,           -- the payload shape its deliveries get
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX subscriptions_kind ON subscriptions(kind, created_at);

CREATE TABLE events (
	id          TEXT PRIMARY KEY,
	action      TEXT NOT NULL,
	object_type TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	resource    TEXT NOT NULL            -- the event as GET /v1/events shows it
);

CREATE TABLE deliveries (
	id                   TEXT PRIMARY KEY,
	event_id             TEXT NOT NULL REFERENCES events(id),
	subscription_id      TEXT NOT NULL,   -- kept when the subscription is deleted
	url                  TEXT NOT NULL,
	scheme               TEXT NOT NULL,   -- signing scheme: monite or monk
	body                 BLOB NOT NULL,   -- the exact bytes every attempt sends
	action               TEXT NOT NULL,
	object_type          TEXT NOT NULL,
	entity_id            TEXT NOT NULL,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	requests_made_count  INTEGER NOT NULL DEFAULT 0,
	response_status_code INTEGER,
	response             TEXT,
	was_successful       INTEGER NOT NULL DEFAULT 0,
	state                TEXT NOT NULL,   -- pending, succeeded, failed, canceled
	next_at              INTEGER          -- when the next attempt is due (pending only)
);
CREATE INDEX deliveries_due ON deliveries(next_at) WHERE state = 'pending';
CREATE INDEX deliveries_created ON deliveries(created_at);

CREATE TABLE attempts (
	delivery_id TEXT NOT NULL REFERENCES deliveries(id),
	n           INTEGER NOT NULL,
	started_at  INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	status      INTEGER NOT NULL,         -- 0: no answer
	error       TEXT NOT NULL,
	response    TEXT NOT NULL,            -- the first KiB of the answer
	PRIMARY KEY (delivery_id, n)
);
