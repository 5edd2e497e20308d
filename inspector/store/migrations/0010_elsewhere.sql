-- A replay or resend to another target than the one a delivery was
-- forwarded to (--to URL) no longer becomes the delivery's latest status
-- and target: the row stays tied to the original forward, and the latest
-- such attempt is kept apart here, for lists to show without a join
-- ("last: replay → URL"). Columns with constant defaults rewrite nothing.
ALTER TABLE deliveries ADD COLUMN elsewhere_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN elsewhere_target TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN elsewhere_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN elsewhere_error TEXT NOT NULL DEFAULT '';
