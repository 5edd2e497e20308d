-- A delivery that no agent has claimed: none subscribed to its event when
-- it came in, or the agents that had it in flight or queued left before
-- acknowledging it. New agents start after the channel's furthest cursor,
-- so these would reach nobody; an agent whose filter matches gets them
-- first when it connects, and the first acknowledgement clears the mark.
-- Most deliveries are claimed at once: the partial index costs nothing for
-- them.
ALTER TABLE deliveries ADD COLUMN unclaimed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_unclaimed ON deliveries(channel, seq) WHERE unclaimed = 1;

-- An agent id is bound to a key only that agent's store holds: the hex
-- SHA-256 of the key given in the agent's first hello ('' for cursors
-- written before keys existed: bound on their next use). Knowing an id no
-- longer lets anyone resume as that agent and acknowledge its deliveries.
ALTER TABLE cursors ADD COLUMN key_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX cursors_updated_at ON cursors(updated_at);
