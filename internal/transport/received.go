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

// fill copies the ranges into an ACK frame.
func (s *receivedSet) fill(a *wire.AckFrame) {
	a.NumRanges = copy(a.Ranges[:], s.ranges)
}

func (s *receivedSet) reset() { s.ranges = s.ranges[:0] }
