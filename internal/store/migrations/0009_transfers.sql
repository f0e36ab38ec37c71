-- Schema 9 (file transfers): one row per file sent or offered to us, so that
-- history lists transfers beside messages. The files themselves and a
-- transfer's resumable state live in the downloads dir (.udpchat-ID.*); this
-- row is only what a person reads back: what, with whom, how it ended.
--
-- id is the transfer ID the sender chose; (id, outgoing) is unique, so a file
-- we sent and one offered to us under the same ID stay apart. state is
-- 'offered' (waiting for an answer), 'accepted' (blocks moving), 'done',
-- 'declined' or 'failed'; path is where a received file landed, error why one
-- failed. at is when the transfer was first seen, updated_at its last change
-- (Unix nanoseconds, as messages.at).
CREATE TABLE transfers (
	id         BLOB    NOT NULL CHECK (length(id) = 16),
	outgoing   INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
	peer       TEXT    NOT NULL,
	person     BLOB    CHECK (person IS NULL OR length(person) = 32),
	peer_name  TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	size       INTEGER NOT NULL,
	state      TEXT    NOT NULL CHECK (state IN ('offered', 'accepted', 'done', 'declined', 'failed')),
	path       TEXT    NOT NULL DEFAULT '',
	error      TEXT    NOT NULL DEFAULT '',
	at         INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (id, outgoing)
) WITHOUT ROWID;

CREATE INDEX transfers_at ON transfers (at);
