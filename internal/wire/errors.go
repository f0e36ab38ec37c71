package wire

import "errors"

// Parse errors. Every parser in this package returns one of these (possibly
// wrapped with detail), so a receiver can count drops by reason.
var (
	ErrTruncated = errors.New("wire: datagram truncated")
	ErrVersion   = errors.New("wire: unknown protocol version")
	ErrType      = errors.New("wire: unknown type")
	ErrMalformed = errors.New("wire: malformed")
	ErrTooBig    = errors.New("wire: too big")
)
