package wire

import (
	"bytes"
	"fmt"
	"strings"
)

// Plain mode speaks the classic classroom UDP chat: each datagram is exactly
// the bytes of name + ":" + text, with no header, no acknowledgement and no
// encryption.

// Plain datagram sizes. Longer text is refused rather than cut, since plain
// mode cannot fragment, and a datagram longer than the receiver reads is cut
// by its socket without a word.
const (
	// DefaultPlainMax is the largest plain datagram udpchat sends unless
	// told otherwise: what the classic threaded scripts read
	// (recvfrom(1024)).
	DefaultPlainMax = 1024
	// MaxPlainDatagram is the largest limit there can be: the most an
	// IPv4 UDP datagram carries.
	MaxPlainDatagram = 65507
)

// AppendPlain appends the datagram name:text to b, or fails if it would be
// over max bytes, or name holds a colon (the receiver would split there).
func AppendPlain(b []byte, name, text string, max int) ([]byte, error) {
	if strings.Contains(name, ":") {
		return b, &userError{ErrMalformed, "a plain-mode name cannot contain ':' (the receiver splits there)"}
	}
	if n := len(name) + 1 + len(text); n > max {
		return b, &userError{ErrTooBig, fmt.Sprintf(
			"too long for plain mode: name:text would be %d bytes, and plain mode sends each message as one datagram of at most %d bytes, what the peer reads (--plain-max); shorten it or split it",
			n, max)}
	}
	b = append(b, name...)
	b = append(b, ':')
	return append(b, text...), nil
}

// ParsePlain splits a plain datagram at its first colon. A datagram with no
// colon has no name; it is all text.
func ParsePlain(b []byte) (name, text []byte) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return nil, b
	}
	return b[:i], b[i+1:]
}
