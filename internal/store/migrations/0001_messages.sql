-- Schema 1: every chat message, sent or received, by value.
--
-- seq is the rowid: SQLite gives a new row max(rowid)+1, so seq orders rows
-- by insertion, which is the order Pending and History return them in.
-- Times are Unix nanoseconds (UTC); delivered_at is NULL until an outgoing
-- message is acknowledged. (peer, direction, id) is unique: an ID is chosen
-- by its sender, so the same 16 bytes from two peers, or from a peer and us,
-- are different messages, while the same ID from the same sender is a
-- retransmission.

-- application_id marks the file as ours (0x75647063, "udpc"), so Open can tell
-- a udpchat database from some other SQLite file dropped in the data dir.
PRAGMA application_id = 1969516643;

CREATE TABLE messages (
	seq          INTEGER PRIMARY KEY,
	peer         TEXT    NOT NULL,
	id           BLOB    NOT NULL CHECK (length(id) = 16),
	direction    INTEGER NOT NULL CHECK (direction IN (0, 1)),
	kind         INTEGER NOT NULL,
	name         TEXT    NOT NULL,
	text         TEXT    NOT NULL,
	at           INTEGER NOT NULL,
	state        INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
	delivered_at INTEGER,
	UNIQUE (peer, direction, id)
);

-- The outbox: only pending rows are in it, so it stays as small as the
-- backlog however long the history grows.
CREATE INDEX messages_pending ON messages (seq) WHERE state = 0;

-- A conversation's newest messages.
CREATE INDEX messages_peer ON messages (peer, seq);
