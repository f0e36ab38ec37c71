package chat

import (
	"crypto/rand"
	"encoding/hex"
)

// newID returns a fresh random message ID: 128 random bits make a collision
// between two messages of one sender practically impossible without any
// state to keep across restarts.
func newID() MessageID {
	var id MessageID
	rand.Read(id[:]) // never fails: crypto/rand panics rather than return short
	return id
}

// String is the ID in hex, as JSON output and logs show it.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }
