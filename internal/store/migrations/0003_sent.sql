-- Schema 3: state 4, Sent: an outgoing message on a link that acknowledges
-- nothing (plain mode). It is history only, never outbox: Pending does not
-- list it and nothing will mark it Delivered.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- (https://sqlite.org/lang_altertable.html#otheralter). Every row keeps its
-- seq, which is messages_fts's rowid, so the search index stays valid as it
-- is. Dropping the old table drops its indexes and triggers; they are made
-- again below, as schemas 1 and 2 made them.
CREATE TABLE messages_new (
	seq          INTEGER PRIMARY KEY,
	peer         TEXT    NOT NULL,
	id           BLOB    NOT NULL CHECK (length(id) = 16),
	direction    INTEGER NOT NULL CHECK (direction IN (0, 1)),
	kind         INTEGER NOT NULL,
	name         TEXT    NOT NULL,
	text         TEXT    NOT NULL,
	at           INTEGER NOT NULL,
	state        INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3, 4)),
	delivered_at INTEGER,
	UNIQUE (peer, direction, id)
);

INSERT INTO messages_new (seq, peer, id, direction, kind, name, text, at, state, delivered_at)
	SELECT seq, peer, id, direction, kind, name, text, at, state, delivered_at FROM messages ORDER BY seq;

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE INDEX messages_pending ON messages (seq) WHERE state = 0;
CREATE INDEX messages_peer ON messages (peer, seq);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
	INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
	INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
END;
