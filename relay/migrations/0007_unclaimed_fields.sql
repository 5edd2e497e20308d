-- Agents filter by object type and entity as well as by event
-- (listen --object-type, --entity-id): an unclaimed delivery keeps all
-- three, so that a filter is matched without reading the delivery. Rows
-- from before this migration have neither: only agents that do not filter
-- on them take those.
ALTER TABLE unclaimed ADD COLUMN object_type TEXT NOT NULL DEFAULT '';
ALTER TABLE unclaimed ADD COLUMN entity_id TEXT NOT NULL DEFAULT '';
