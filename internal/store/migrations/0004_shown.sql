-- Schema 4: shown, for a received message, says a UI has written it out.
--
-- Storing a message and printing it cannot be one transaction, so a
-- receiver killed between the two (kill -9) once never printed a message it
-- had stored and acknowledged. Now a message is stored unshown (0), marked
-- shown (1) once a UI has written it, and those still unshown are shown at
-- the next start: each is shown at least once. Rows from before, received
-- or ours, count as shown (the DEFAULT), as they were handled then.
ALTER TABLE messages ADD COLUMN shown INTEGER NOT NULL DEFAULT 1 CHECK (shown IN (0, 1));

-- What waits to be shown: usually nothing, so the index stays empty.
CREATE INDEX messages_unshown ON messages (seq) WHERE direction = 1 AND shown = 0;
