-- Schema 6: rooms (issue 11), what the replication core (internal/rooms) keeps
-- across restarts: docs/PROTOCOL.md, "Rooms". The tables hold its records as
-- they are, by value; the store does not interpret them.
--
-- room_rooms holds one row per room the user founded or joined, with what is
-- not in the other tables: whether the history a newcomer is owed has all
-- arrived, and the order key (Lamport clock, sender) of the last history item
-- received. Its rowid orders the rooms as they were added.
--
-- Numbers the protocol sends as 64-bit unsigned (versions, epochs, seqs,
-- Lamport clocks, heads) are stored with the same bits as SQLite's signed
-- INTEGER: real ones stay far below 2^63, where the two orders agree.
--
-- Everything else belongs to a room and goes with it (ON DELETE CASCADE;
-- Open turns foreign_keys on), for when a user may leave one for good.
CREATE TABLE room_rooms (
	room           BLOB    NOT NULL PRIMARY KEY CHECK (length(room) = 16),
	history_done   INTEGER NOT NULL CHECK (history_done IN (0, 1)),
	cursor_lamport INTEGER NOT NULL,
	cursor_sender  BLOB    NOT NULL CHECK (length(cursor_sender) = 32)
);

-- The membership log: each entry as the founder signed it, in version order
-- (1, 2, …), verified by the core before it is stored.
CREATE TABLE room_log (
	room    BLOB    NOT NULL REFERENCES room_rooms (room) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	entry   BLOB    NOT NULL,
	PRIMARY KEY (room, version)
) WITHOUT ROWID;

-- Sender keys, each member's per membership epoch, with its signed
-- announcement. They are secrets (each decrypts a member's messages of that
-- epoch), so they live here, in the database Open keeps at mode 0600, with
-- the history they protect, and never in a file of their own.
CREATE TABLE room_keys (
	room       BLOB    NOT NULL REFERENCES room_rooms (room) ON DELETE CASCADE,
	sender     BLOB    NOT NULL CHECK (length(sender) = 32),
	epoch      INTEGER NOT NULL,
	prev_epoch INTEGER NOT NULL,
	first_seq  INTEGER NOT NULL,
	key        BLOB    NOT NULL CHECK (length(key) = 32),
	sig        BLOB    NOT NULL CHECK (length(sig) = 64),
	PRIMARY KEY (room, sender, epoch)
) WITHOUT ROWID;

-- Room messages, decrypted and verified, with the sender's signature so that
-- they can be handed on as history. (room, sender, seq) names a message: a
-- message that arrives again (a retransmission, gap repair, history) is
-- ignored, by ON CONFLICT (room, sender, seq) DO NOTHING (as INSERT OR IGNORE,
-- but without also dropping, silently, a row that breaks a CHECK). history:
-- it came as history, said before this user joined, not live.
CREATE TABLE room_messages (
	room    BLOB    NOT NULL REFERENCES room_rooms (room) ON DELETE CASCADE,
	sender  BLOB    NOT NULL CHECK (length(sender) = 32),
	seq     INTEGER NOT NULL,
	epoch   INTEGER NOT NULL,
	lamport INTEGER NOT NULL,
	text    BLOB    NOT NULL,
	sig     BLOB    NOT NULL CHECK (length(sig) = 64),
	history INTEGER NOT NULL CHECK (history IN (0, 1)),
	PRIMARY KEY (room, sender, seq)
) WITHOUT ROWID;

-- A room's one agreed order: by Lamport clock, then sender, then seq.
CREATE INDEX room_messages_order ON room_messages (room, lamport, sender, seq);

-- Delivery: member has sender's messages up to and including seq head on
-- its disk (its acknowledgements and statuses say so). Heads only grow: an
-- upsert keeps the larger, so an old status that arrives late changes
-- nothing.
CREATE TABLE room_delivery (
	room   BLOB    NOT NULL REFERENCES room_rooms (room) ON DELETE CASCADE,
	member BLOB    NOT NULL CHECK (length(member) = 32),
	sender BLOB    NOT NULL CHECK (length(sender) = 32),
	head   INTEGER NOT NULL,
	PRIMARY KEY (room, member, sender)
) WITHOUT ROWID;
