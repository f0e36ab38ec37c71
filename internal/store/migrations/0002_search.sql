-- Schema 2: full-text search over what was said.
--
-- An external-content FTS5 table: it indexes messages.text without keeping a
-- second copy of it, and the triggers keep it in step with messages in the
-- same transaction. unicode61 folds case across Unicode and, with
-- remove_diacritics 2, matches "ecole" to "école". columnsize = 0: results
-- are ordered newest first, never ranked by bm25, so the per-row token counts
-- would be written and stored for nothing. Only text changes the index, so
-- the state updates of the outbox do not touch it.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	text,
	content = 'messages',
	content_rowid = 'seq',
	tokenize = 'unicode61 remove_diacritics 2',
	columnsize = 0
);

-- Index what schema 1 already holds.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

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
