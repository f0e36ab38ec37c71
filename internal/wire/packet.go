// Package wire defines the byte layout of every udpchat datagram and of the
// chat payloads they carry: Append and Parse pairs with no I/O, so that each
// can be fuzzed and a second implementation written from docs/PROTOCOL.md.
//
// A transport datagram is a fixed header followed by frames:
//
//	 0         1      2                 10                18                26
//	+---------+------+-----------------+-----------------+-----------------+--------
//	| version | type | source epoch    | dest. epoch     | packet number   | frames…
//	+---------+------+-----------------+-----------------+-----------------+--------
//
// All integers in the header are unsigned, big-endian. Frames start with a
// type byte; their integer fields are varints (see varint.go).
package wire

import (
	"encoding/binary"
	"fmt"
)

// Version is the protocol version this package speaks. Datagrams of any
// other version are dropped.
const Version = 1

// Datagram types (the second byte).
const (
	TypeTransport = 0x01 // a transport packet: header, then frames
)

// Sizes.
const (
	// MaxDatagram is the largest datagram udpchat sends before it knows the
	// path carries more, and the largest it accepts of handshakes, beacons
	// and relayed datagrams: it fits the IPv6 minimum MTU (1280) after IPv6
	// and UDP headers. It is the base of path MTU discovery (RFC 8899's
	// BASE_PLPMTU).
	MaxDatagram = 1200
	// MaxPathDatagram is the largest transport packet, or secure data
	// datagram, udpchat sends once path MTU discovery has found a path that
	// carries it, and so the largest it accepts of those. It bounds the
	// search and every receive buffer: 16 KiB holds a jumbo frame's payload
	// (9000-byte MTU) and, on loopback, 15 chunks a packet, while a
	// receiver's queue of read buffers stays a few MiB.
	MaxPathDatagram = 16 << 10
	// HeaderLen is the length of a transport packet's header.
	HeaderLen = 26
	// MinInitialLen is the size a packet with no destination epoch is padded
	// to, so that whatever answers it is never larger (no amplification).
	MinInitialLen = 64
)

// Header is the fixed part of a transport packet.
type Header struct {
	// SrcEpoch names the sender's incarnation: it is chosen when the sender
	// starts and only ever grows, so a restart is visible to the peer. Never 0.
	SrcEpoch uint64
	// DstEpoch is the receiver's epoch as the sender knows it, or 0 before
	// the sender has heard from the receiver.
	DstEpoch uint64
	// PacketNumber counts the sender's packets to this receiver; it only goes
	// up, and a retransmission gets a new one.
	PacketNumber uint64
}

// AppendHeader appends h's encoding to b.
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, Version, TypeTransport)
	b = binary.BigEndian.AppendUint64(b, h.SrcEpoch)
	b = binary.BigEndian.AppendUint64(b, h.DstEpoch)
	return binary.BigEndian.AppendUint64(b, h.PacketNumber)
}

// ParseHeader decodes the header at the front of a transport datagram and
// returns it with the frames that follow.
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) > MaxPathDatagram {
		return Header{}, nil, errTooBigDatagram(len(b), MaxPathDatagram)
	}
	if len(b) < 2 {
		return Header{}, nil, ErrTruncated
	}
	if b[0] != Version {
		return Header{}, nil, fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	if b[1] != TypeTransport {
		return Header{}, nil, fmt.Errorf("%w 0x%02x", ErrType, b[1])
	}
	if len(b) < HeaderLen {
		return Header{}, nil, ErrTruncated
	}
	h := Header{
		SrcEpoch:     binary.BigEndian.Uint64(b[2:]),
		DstEpoch:     binary.BigEndian.Uint64(b[10:]),
		PacketNumber: binary.BigEndian.Uint64(b[18:]),
	}
	if h.SrcEpoch == 0 {
		return Header{}, nil, fmt.Errorf("%w: source epoch 0", ErrMalformed)
	}
	return h, b[HeaderLen:], nil
}
