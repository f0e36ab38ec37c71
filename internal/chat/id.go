package chat

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// newID returns a fresh message ID: the time in microseconds since 1970,
// its low 32 bits and then its high 32 (big-endian), then 8 random bytes.
//
// Time first, because both stores index messages by (peer, direction, ID):
// the IDs of a burst, made microseconds apart, sort next to each other, so
// a burst of a thousand messages changes a few pages of that index, where
// random IDs changed a page each (a page written to the log and
// checkpointed for every row: half the CPU of a piped burst into a
// 100,000-message history). The low bits first, because a person names a
// message by the start of its ID (/cancel, history --cancel: the first 8
// hex digits are what the UIs show), and those must differ between any two
// messages: the low 32 bits of the clock do, within a process, for 71
// minutes (a message made in the same microsecond as the last takes the
// next one). The 64 random bits keep two senders, or one whose clock went
// back across a restart, from meeting: no state is kept across restarts.
// A peer learns when a message was written, which it mostly sees anyway
// when it arrives.
func newID() MessageID {
	var id MessageID
	t := nextIDTime(uint64(time.Now().UnixMicro()))
	binary.BigEndian.PutUint32(id[0:4], uint32(t))
	binary.BigEndian.PutUint32(id[4:8], uint32(t>>32))
	rand.Read(id[8:]) // never fails: crypto/rand panics rather than return short
	return id
}

// lastIDTime is the clock part of the newest ID this process made.
var lastIDTime atomic.Uint64

// nextIDTime is now, or one more than the last ID's clock part if that is
// not earlier, and records it as the last.
func nextIDTime(now uint64) uint64 {
	for {
		last := lastIDTime.Load()
		t := max(now, last+1)
		if lastIDTime.CompareAndSwap(last, t) {
			return t
		}
	}
}

// String is the ID in hex, as JSON output and logs show it.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }
