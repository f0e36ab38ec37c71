package wire

import (
	"errors"
	"fmt"
)

// Parse errors. Every parser in this package returns one of these (possibly
// wrapped with detail), so a receiver can count drops by reason.
var (
	ErrTruncated = errors.New("wire: datagram truncated")
	ErrVersion   = errors.New("wire: unknown protocol version")
	ErrType      = errors.New("wire: unknown type")
	ErrMalformed = errors.New("wire: malformed")
	ErrTooBig    = errors.New("wire: too big")
)

// Drop is why a receiver throws away what did not parse, as far as this
// package can tell from the error. Every layer that parses datagrams counts
// these four reasons first, in this order, so its DropReason converts from
// a Drop (secure.DropReason and transport.DropReason both do).
type Drop int

const (
	DropMalformed Drop = iota // did not parse: truncated, wrong length, bad padding
	DropVersion               // unknown protocol version
	DropType                  // unknown datagram or frame type
	DropTooBig                // over MaxDatagram
)

// DropOf says which Drop a parse error calls for.
func DropOf(err error) Drop {
	switch {
	case errors.Is(err, ErrVersion):
		return DropVersion
	case errors.Is(err, ErrType):
		return DropType
	case errors.Is(err, ErrTooBig):
		return DropTooBig
	default:
		return DropMalformed
	}
}

// Dropped totals a layer's drop counts, one per reason (its Stats.Drops).
func Dropped(drops []uint64) uint64 {
	var n uint64
	for _, d := range drops {
		n += d
	}
	return n
}

// userError is one of the errors above with a message for the person who
// caused it, which the UIs show as it is: errors.Is still finds the kind,
// and the message leaves out the package's prefix.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

// errTooBigDatagram is ErrTooBig for a datagram of n bytes, over limit. n
// may be short of the real size: a reader sees the first limit+1 bytes of
// an oversized datagram and nothing of the rest, so the error says "over".
func errTooBigDatagram(n, limit int) error {
	return fmt.Errorf("%w: a datagram of over %d bytes (%d read)", ErrTooBig, limit, n)
}
