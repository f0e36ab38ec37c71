-- Schema 8: held_at, for an outgoing message, is when a relay said it holds
-- the message, sealed, in the recipient's mailbox (Unix nanoseconds; NULL:
-- no relay holds it). The message stays Pending: held is not delivered, and
-- the outbox still sends it directly if the recipient comes back while we
-- run; it becomes Delivered when they acknowledge it, directly or by a
-- receipt mail.
ALTER TABLE messages ADD COLUMN held_at INTEGER;
