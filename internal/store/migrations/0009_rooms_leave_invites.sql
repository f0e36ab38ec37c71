-- Schema 9: leaving a room, and invitations that outlive a restart.
--
-- room_rooms.leaving: the user left the room (/leave) and asks its founder to
-- remove it until the removal arrives; an invitation back clears it.
ALTER TABLE room_rooms ADD COLUMN leaving INTEGER NOT NULL DEFAULT 0 CHECK (leaving IN (0, 1));
