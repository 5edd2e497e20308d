-- Deliveries no agent has acknowledged yet, with their event, so that an
-- agent's filter can be matched without reading the delivery. A row is
-- written with its delivery and deleted by the first acknowledgement. An
-- agent that connects gets those up to where it starts that its filter
-- matches and that no connected agent is still going to take: what arrived
-- while no agent subscribed to it, and what an agent had in flight when it
-- went away, crashes of the relay included. Deliveries from before this
-- migration count as claimed.
CREATE TABLE unclaimed (
	channel TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	action  TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (channel, seq)
) WITHOUT ROWID;

-- An agent id is bound to a key only that agent's store holds: the hex
-- SHA-256 of the key given in the agent's first hello ('' for cursors
-- written before keys existed: bound on their next use). Knowing an id no
-- longer lets anyone resume as that agent and acknowledge its deliveries.
ALTER TABLE cursors ADD COLUMN key_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX cursors_updated_at ON cursors(updated_at);
