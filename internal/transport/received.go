package transport

import (
	"slices"

	"github.com/udpchat/udpchat/internal/wire"
)

// receivedSet remembers which packet numbers arrived, as the ranges an ACK
// frame reports. It keeps at most wire.MaxAckRanges ranges; past that the
// oldest is forgotten, which costs nothing but a possible redundant
// retransmission (frames are idempotent).
type receivedSet struct {
	ranges []wire.AckRange // descending by packet number, never touching
}

// add records pn and reports whether it was already there.
func (s *receivedSet) add(pn uint64) (duplicate bool) {
	// Find the first range whose smallest is <= pn.
	i := 0
	for i < len(s.ranges) && s.ranges[i].Smallest > pn {
		i++
	}
	if i < len(s.ranges) && pn <= s.ranges[i].Largest {
		return true
	}
	extendsAbove := i > 0 && s.ranges[i-1].Smallest == pn+1
	extendsBelow := i < len(s.ranges) && s.ranges[i].Largest+1 == pn
	switch {
	case extendsAbove && extendsBelow:
		s.ranges[i-1].Smallest = s.ranges[i].Smallest
		s.ranges = slices.Delete(s.ranges, i, i+1)
	case extendsAbove:
		s.ranges[i-1].Smallest = pn
	case extendsBelow:
		s.ranges[i].Largest = pn
	default:
		s.ranges = slices.Insert(s.ranges, i, wire.AckRange{Smallest: pn, Largest: pn})
		if len(s.ranges) > wire.MaxAckRanges {
			s.ranges = s.ranges[:wire.MaxAckRanges]
		}
	}
	return false
}

// largest is the largest packet number received; ok is false before any.
func (s *receivedSet) largest() (pn uint64, ok bool) {
	if len(s.ranges) == 0 {
		return 0, false
	}
	return s.ranges[0].Largest, true
}

// quickAckPackets is how many packets after a gap are each acknowledged at
// once. A gap means the sender has lost a packet, so it is short of window
// and waits on every ACK: holding one for the ack delay (1 ms, far longer
// than a LAN's round trip) would stall it.
const quickAckPackets = 16

// recentGap reports whether packets are missing among the last
// quickAckPackets below the largest packet number: a gap just opened, which
// the sender should hear of at once (RFC 9000 section 13.2.1), or a recent
// one.
func (s *receivedSet) recentGap() bool {
	return len(s.ranges) > 1 && s.ranges[0].Largest-s.ranges[0].Smallest < quickAckPackets
}

// fill copies the ranges into an ACK frame.
func (s *receivedSet) fill(a *wire.AckFrame) {
	a.NumRanges = copy(a.Ranges[:], s.ranges)
}

func (s *receivedSet) reset() { s.ranges = s.ranges[:0] }
