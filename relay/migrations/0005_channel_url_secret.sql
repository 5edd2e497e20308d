-- A channel's ingress URL may carry a secret path segment
-- ({relay}/h/{name}/{url_secret}) for teams that want the URL itself to be
-- unguessable; '' means the plain /h/{name}. Unlike the agent token, the
-- secret is kept as it is, not hashed: the relay must build the full URL
-- again for every agent that connects (the welcome carries it, and
-- `hooktap listen` prints it) and for the admin API. Hashing it would
-- protect nothing the file does not already expose, since whoever can read
-- this file reads every buffered delivery too.
ALTER TABLE channels ADD COLUMN url_secret TEXT NOT NULL DEFAULT '';
