-- Channels a team relay knows (team mode only: in open mode any name works).
-- token_hash is the hex SHA-256 of the channel's agent token; the token
-- itself is shown once, when it is created or rotated, and never stored.
CREATE TABLE channels (
	name           TEXT    NOT NULL PRIMARY KEY,
	token_hash     TEXT    NOT NULL,
	created_at     INTEGER NOT NULL, -- unix microseconds
	token_set_at   INTEGER NOT NULL  -- unix microseconds
) WITHOUT ROWID;
