package wire

import (
	"bytes"
	"fmt"
)

// Frame types. Every frame but PADDING and ACK is ack-eliciting: a receiver
// must acknowledge the packet that carried it.
const (
	FramePadding = 0x00 // one zero byte; runs of them fill a packet
	FramePing    = 0x01 // no fields; asks for an acknowledgement (keepalive, probe)
	FrameAck     = 0x02 // packets received, and messages consumed
	FrameChunk   = 0x03 // a piece of one message
	FrameClose   = 0x04 // no fields; the sender is leaving
)

// Message chunking. A message of L bytes is carried in ceil(L/ChunkSize)
// chunks; chunk i holds bytes [i*ChunkSize, min((i+1)*ChunkSize, L)). Fixed
// boundaries make reassembly a bitmap and keep every chunk frame, with a
// header, inside MaxDatagram with room for a small ACK frame (a large one
// goes in a packet of its own).
const (
	ChunkSize = 1024
	// MaxMessageLen is the largest message a chunk may belong to.
	MaxMessageLen = 256<<10 + 1024
	// MaxAckRanges bounds the ranges in one ACK frame (a DoS defence, and
	// what keeps an ACK frame small).
	MaxAckRanges = 32
	// MaxChunkFrameOverhead is the most a chunk frame adds to its data.
	MaxChunkFrameOverhead = 1 + 8 + 4 + 4 + 2
	// MinPacket is the smallest packet that can carry any chunk.
	MinPacket = HeaderLen + MaxChunkFrameOverhead + ChunkSize
)

// AckRange is an inclusive range of packet numbers.
type AckRange struct{ Smallest, Largest uint64 }

// AckFrame acknowledges packets and reports how far the receiver's
// application has consumed the message stream. Ranges are in descending
// order and do not touch: Ranges[0] holds the largest packet number.
//
// Encoding (after the type byte), in the style of QUIC's ACK frame:
//
//	largest acknowledged, ack delay (µs), delivered, range count,
//	first range, then range count × (gap, range length)
//
// where first range = Ranges[0].Largest - Ranges[0].Smallest, and for each
// further range gap = previous.Smallest - this.Largest - 2 and range length =
// this.Largest - this.Smallest.
type AckFrame struct {
	DelayMicros uint64
	// Delivered is the number of messages of the current session the
	// receiver has consumed: every message with a lower sequence is done.
	Delivered uint64
	NumRanges int
	Ranges    [MaxAckRanges]AckRange
}

// Largest is the largest acknowledged packet number.
func (a *AckFrame) Largest() uint64 { return a.Ranges[0].Largest }

// Acks reports whether pn is in one of the frame's ranges.
func (a *AckFrame) Acks(pn uint64) bool {
	for _, r := range a.Ranges[:a.NumRanges] {
		if pn > r.Largest {
			return false
		}
		if pn >= r.Smallest {
			return true
		}
	}
	return false
}

// Append appends the frame, type byte included.
func (a *AckFrame) Append(b []byte) []byte {
	b = append(b, FrameAck)
	first := a.Ranges[0]
	b = AppendVarint(b, first.Largest)
	b = AppendVarint(b, a.DelayMicros)
	b = AppendVarint(b, a.Delivered)
	b = AppendVarint(b, uint64(a.NumRanges-1))
	b = AppendVarint(b, first.Largest-first.Smallest)
	prev := first
	for _, r := range a.Ranges[1:a.NumRanges] {
		b = AppendVarint(b, prev.Smallest-r.Largest-2)
		b = AppendVarint(b, r.Largest-r.Smallest)
		prev = r
	}
	return b
}

// Len is the number of bytes Append writes.
func (a *AckFrame) Len() int {
	first := a.Ranges[0]
	n := 1 + VarintLen(first.Largest) + VarintLen(a.DelayMicros) + VarintLen(a.Delivered) +
		VarintLen(uint64(a.NumRanges-1)) + VarintLen(first.Largest-first.Smallest)
	prev := first
	for _, r := range a.Ranges[1:a.NumRanges] {
		n += VarintLen(prev.Smallest-r.Largest-2) + VarintLen(r.Largest-r.Smallest)
		prev = r
	}
	return n
}

// ChunkFrame carries bytes [Offset, Offset+len(Data)) of message Seq, which
// is MsgLen bytes long.
//
// Encoding (after the type byte): message sequence, message length, offset,
// data length (all varints), then the data.
type ChunkFrame struct {
	Seq    uint64
	MsgLen uint64
	Offset uint64
	Data   []byte // aliases the datagram it was parsed from
}

// Append appends the frame, type byte included.
func (c *ChunkFrame) Append(b []byte) []byte {
	b = append(b, FrameChunk)
	b = AppendVarint(b, c.Seq)
	b = AppendVarint(b, c.MsgLen)
	b = AppendVarint(b, c.Offset)
	b = AppendVarint(b, uint64(len(c.Data)))
	return append(b, c.Data...)
}

// Len is the number of bytes Append writes.
func (c *ChunkFrame) Len() int {
	return 1 + VarintLen(c.Seq) + VarintLen(c.MsgLen) + VarintLen(c.Offset) +
		VarintLen(uint64(len(c.Data))) + len(c.Data)
}

// Frame is one parsed frame. Only the field that Type names is set; it is a
// struct rather than an interface so that parsing allocates nothing.
type Frame struct {
	Type  byte
	Ack   AckFrame
	Chunk ChunkFrame
}

// ParseFrame decodes the frame at the front of b into f and returns its
// length. A run of PADDING bytes is one frame.
func ParseFrame(b []byte, f *Frame) (int, error) {
	if len(b) == 0 {
		return 0, ErrTruncated
	}
	f.Type = b[0]
	switch f.Type {
	case FramePadding:
		// A path MTU probe is kilobytes of it: trimmed in one call.
		return len(b) - len(bytes.TrimLeft(b, "\x00")), nil
	case FramePing, FrameClose:
		return 1, nil
	case FrameAck:
		n, err := parseAck(b[1:], &f.Ack)
		if err != nil {
			return 0, err
		}
		return 1 + n, nil
	case FrameChunk:
		n, err := parseChunk(b[1:], &f.Chunk)
		if err != nil {
			return 0, err
		}
		return 1 + n, nil
	default:
		return 0, fmt.Errorf("%w: frame 0x%02x", ErrType, f.Type)
	}
}

// varintReader reads a sequence of varints, remembering the first error.
type varintReader struct {
	b   []byte
	n   int
	err error
}

func (r *varintReader) next() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := ParseVarint(r.b[r.n:])
	r.n += n
	r.err = err
	return v
}

func parseAck(b []byte, a *AckFrame) (int, error) {
	r := varintReader{b: b}
	largest := r.next()
	a.DelayMicros = r.next()
	a.Delivered = r.next()
	count := r.next()
	first := r.next()
	if r.err != nil {
		return 0, r.err
	}
	if count >= MaxAckRanges {
		return 0, fmt.Errorf("%w: ACK with %d ranges", ErrMalformed, count+1)
	}
	if first > largest {
		return 0, fmt.Errorf("%w: ACK range below zero", ErrMalformed)
	}
	a.Ranges[0] = AckRange{Smallest: largest - first, Largest: largest}
	a.NumRanges = 1 + int(count)
	for i := 1; i < a.NumRanges; i++ {
		gap, length := r.next(), r.next()
		if r.err != nil {
			return 0, r.err
		}
		prev := a.Ranges[i-1].Smallest
		if gap+2 > prev || length > prev-gap-2 {
			return 0, fmt.Errorf("%w: ACK range below zero", ErrMalformed)
		}
		hi := prev - gap - 2
		a.Ranges[i] = AckRange{Smallest: hi - length, Largest: hi}
	}
	return r.n, nil
}

func parseChunk(b []byte, c *ChunkFrame) (int, error) {
	r := varintReader{b: b}
	c.Seq = r.next()
	c.MsgLen = r.next()
	c.Offset = r.next()
	length := r.next()
	if r.err != nil {
		return 0, r.err
	}
	if c.MsgLen == 0 || c.MsgLen > MaxMessageLen {
		return 0, fmt.Errorf("%w: message length %d", ErrMalformed, c.MsgLen)
	}
	if c.Offset%ChunkSize != 0 || c.Offset >= c.MsgLen ||
		length != min(ChunkSize, c.MsgLen-c.Offset) {
		return 0, fmt.Errorf("%w: chunk [%d,+%d) of a %d-byte message", ErrMalformed, c.Offset, length, c.MsgLen)
	}
	if uint64(len(b)-r.n) < length {
		return 0, ErrTruncated
	}
	c.Data = b[r.n : r.n+int(length) : r.n+int(length)]
	return r.n + int(length), nil
}
