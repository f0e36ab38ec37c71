-- Schema 7: nearby_at, for a contact, is when a running chat last heard them
-- announce themselves on the local network (Unix nanoseconds; NULL: never).
--
-- It is not an endpoint: a beacon proves nothing (anyone can announce any
-- key), so where a beacon came from must never become the address the
-- outbox sends to, while an address a session proved stays that contact's
-- whatever beacons say. It is only what `udpchat contacts` needs to say
-- "nearby" from another process than the chat that hears the beacons.
ALTER TABLE contacts ADD COLUMN nearby_at INTEGER;
