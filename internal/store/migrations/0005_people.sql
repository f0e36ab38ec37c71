-- Schema 5: people. A peer is a person, known by its 32-byte public key, not
-- by the address it last wrote from: addresses change (roaming, NAT, a relay),
-- keys do not (issue 10, "People, not addresses").
--
-- contacts holds one row per person: the name they announce, the name the
-- user gave them (NULL for none), and when they were first and last seen
-- (Unix nanoseconds, as messages.at). endpoints holds where a person was
-- seen, and how the address was learned; the store keeps the newest few per
-- person (MaxEndpoints), so a roaming peer does not grow it without bound.
-- Forgetting a person deletes its endpoints with it (ON DELETE CASCADE; Open
-- turns foreign_keys on).
CREATE TABLE contacts (
	key            BLOB    PRIMARY KEY CHECK (length(key) = 32),
	announced_name TEXT    NOT NULL,
	given_name     TEXT,
	first_seen     INTEGER NOT NULL,
	last_seen      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE endpoints (
	key       BLOB    NOT NULL REFERENCES contacts (key) ON DELETE CASCADE,
	address   TEXT    NOT NULL,
	source    TEXT    NOT NULL CHECK (source IN ('flag', 'discovery', 'relay', 'packet')),
	last_seen INTEGER NOT NULL,
	PRIMARY KEY (key, address)
) WITHOUT ROWID;

-- A message's person is the key of the other side, NULL where it is not
-- known: every row stored before this schema until AssignPeople maps its
-- address, and those whose address maps to no key for good. peer stays, so
-- the history by address stays readable. No foreign key: forgetting a
-- person keeps what was said.
ALTER TABLE messages ADD COLUMN person BLOB CHECK (person IS NULL OR length(person) = 32);

-- A person's conversation, newest last, and the outbox per person.
CREATE INDEX messages_person ON messages (person, seq);

-- An ID names a message with its sender, whatever address it came from:
-- a retransmission that arrives from a person's new address is the same
-- message, as (peer, direction, id) says for one address.
CREATE UNIQUE INDEX messages_person_id ON messages (person, direction, id) WHERE person IS NOT NULL;

-- meta records one-time work that is not a schema change, such as the
-- backfill of messages.person (AssignPeople), so that it runs once.
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
