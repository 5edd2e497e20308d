-- An index on the code again (0005 dropped it): without one, a page of
-- "--status 202" walks every 2xx delivery when there is no 202 among them,
-- half a second at 300,000 deliveries. Codes are few and mostly one, so
-- each write adds to the end of a run: a page per commit at most.
CREATE INDEX deliveries_status_code ON deliveries(status);
