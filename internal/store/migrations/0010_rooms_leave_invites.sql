-- Schema 10: leaving a room, and invitations that outlive a restart.
--
-- room_rooms.leaving: the user left the room (/leave) and asks its founder to
-- remove it until the removal arrives; an invitation back clears it.
ALTER TABLE room_rooms ADD COLUMN leaving INTEGER NOT NULL DEFAULT 0 CHECK (leaving IN (0, 1));

-- room_invitations: invitations the rooms core verified (signed by the
-- room's founder, with the user a member) that wait for the user's /join,
-- each with the label it came with (the founder's name for the room) and
-- the log as it came (the log datagram, which the core checks again when
-- it loads it). /join works after a restart, and the founder need not send
-- it again. Its rowid orders them as they came.
CREATE TABLE room_invitations (
	room  BLOB NOT NULL PRIMARY KEY CHECK (length(room) = 16),
	label TEXT NOT NULL,
	log   BLOB NOT NULL
);
