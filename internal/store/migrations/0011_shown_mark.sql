-- Schema 11: shown_mark, a high-water mark for what a UI has shown.
--
-- Marking a burst shown row by row (schema 4's flag) rewrote every message
-- a second time, a fifth of a busy receiver's work. Now a received message
-- is shown if its seq is at most shown_mark.seq, or its shown flag is 1: a
-- UI that shows messages in the order they were stored (line, --json and
-- the TUI all do) moves the mark with one tiny UPDATE, and a message shown
-- out of that order (one before it is still unshown) is flagged as before.
-- Messages are never deleted, so seq only grows and nothing new falls
-- under the mark.
--
-- Existing state carries over as it is: the mark stops just before the
-- oldest message still unshown (or at the newest row if there is none), and
-- the flags above it stay as they are.
CREATE TABLE shown_mark (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	seq INTEGER NOT NULL
);
INSERT INTO shown_mark (one, seq) VALUES (1, coalesce(
	(SELECT min(seq) - 1 FROM messages WHERE direction = 1 AND shown = 0),
	(SELECT max(seq) FROM messages),
	0));

-- What waits to be shown lies above the mark, found by seq: the index of
-- unshown rows would now hold every message received.
DROP INDEX messages_unshown;
