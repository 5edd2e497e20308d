-- The highest seq of the store indexed so far, written in the same
-- transaction as the index: indexing resumes after it, exactly. Prune
-- lowers it below deleted seqs, which SQLite may give out again.
CREATE TABLE indexed (through INTEGER NOT NULL);
INSERT INTO indexed(through) VALUES (0);
