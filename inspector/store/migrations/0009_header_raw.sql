-- Headers are bytes, and HTTP allows bytes that are not UTF-8 in values
-- (obs-text), which the JSON of the header columns cannot hold (it gets
-- U+FFFD instead). A header with such bytes is also kept here, exactly, in
-- the wire package's binary header encoding (relay/wire.AppendHeader), and
-- readers take it over the JSON; NULL, the common case, means the JSON is
-- exact. The JSON stays what the full-text index and people read. Adding a
-- nullable column rewrites nothing, however large the store.
ALTER TABLE deliveries ADD COLUMN header_raw BLOB;
ALTER TABLE attempts ADD COLUMN request_header_raw BLOB;
ALTER TABLE attempts ADD COLUMN response_header_raw BLOB;
