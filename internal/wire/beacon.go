package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// A discovery beacon tells the hosts of a LAN that a udpchat user is there
// (internal/discovery, docs/PROTOCOL.md section D). It travels on its own
// port, apart from the chat, so it starts with a magic number rather than
// the chat's version byte:
//
//	 0       4     5      6          38             46          48     49
//	+-------+-----+------+----------+--------------+-----------+------+----------+
//	| magic | ver | type | key (32) | instance (8) | chat port | n    | name (n) |
//	+-------+-----+------+----------+--------------+-----------+------+----------+
//
// Integers are unsigned, big-endian. The key is the sender's X25519 public
// key, a hint only: nothing is trusted until a Noise handshake proves it.
//
// An announcement is padded with zeros to MaxBeaconLen, the size of the
// largest answer, so that answering one never sends more bytes than came in
// (a forged source address gains nothing). Answers and leaves end with the
// name.

// BeaconMagic starts every beacon: "UDPc".
const BeaconMagic = 0x55445063

// BeaconVersion is the beacon layout this package speaks; others are dropped.
const BeaconVersion = 1

// BeaconType says why a beacon was sent.
type BeaconType uint8

const (
	// BeaconAnnounce is broadcast: "I am here". A receiver that did not
	// know the sender answers it. It is always MaxBeaconLen bytes.
	BeaconAnnounce BeaconType = 1
	// BeaconAnswer is the unicast reply to an announcement from a sender
	// the receiver did not know; it is never answered.
	BeaconAnswer BeaconType = 2
	// BeaconLeave is broadcast by a sender that is going: forget it now.
	BeaconLeave BeaconType = 3
)

// Beacon sizes and offsets.
const (
	beaconKeyOff      = 6
	beaconInstanceOff = beaconKeyOff + 32
	beaconPortOff     = beaconInstanceOff + 8
	// BeaconHeaderLen is a beacon without its name.
	BeaconHeaderLen = beaconPortOff + 2 + 1
	// MaxBeaconLen is the largest beacon: one with the longest name.
	MaxBeaconLen = BeaconHeaderLen + MaxNameLen
)

// Beacon is a decoded discovery beacon.
type Beacon struct {
	Type BeaconType
	// Key is the sender's public key (a keys.PublicKey; wire imports
	// nothing of ours). Never all zeros.
	Key [32]byte
	// Instance names the sending process: chosen at random when it starts,
	// never 0, so that a restart is told from a second beacon.
	Instance uint64
	// ChatPort is the UDP port the sender chats on, at the address the
	// beacon came from. Never 0.
	ChatPort uint16
	// Name is the sender's display name: 1 to MaxNameLen bytes of UTF-8.
	Name string
}

// AppendBeacon appends m's encoding to b, or fails (leaving b as it was)
// if m is not a beacon ParseBeacon would accept.
func AppendBeacon(b []byte, m Beacon) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint32(b, BeaconMagic)
	b = append(b, BeaconVersion, byte(m.Type))
	b = append(b, m.Key[:]...)
	b = binary.BigEndian.AppendUint64(b, m.Instance)
	b = binary.BigEndian.AppendUint16(b, m.ChatPort)
	b = append(b, byte(len(m.Name)))
	b = append(b, m.Name...)
	if m.Type == BeaconAnnounce {
		for range MaxNameLen - len(m.Name) {
			b = append(b, 0)
		}
	}
	return b, nil
}

// ParseBeacon decodes a beacon. Anything but exactly one well-formed beacon
// is an error wrapping one of the package's sentinels; a datagram that does
// not start with BeaconMagic is ErrMalformed (not a beacon at all).
func ParseBeacon(b []byte) (Beacon, error) {
	if len(b) > MaxDatagram {
		return Beacon{}, errTooBigDatagram(len(b), MaxDatagram)
	}
	if len(b) < 4 {
		return Beacon{}, ErrTruncated
	}
	if binary.BigEndian.Uint32(b) != BeaconMagic {
		return Beacon{}, fmt.Errorf("%w: not a udpchat beacon (magic %08x)", ErrMalformed, binary.BigEndian.Uint32(b))
	}
	if len(b) < 6 {
		return Beacon{}, ErrTruncated
	}
	if b[4] != BeaconVersion {
		return Beacon{}, fmt.Errorf("%w %d (beacon)", ErrVersion, b[4])
	}
	if len(b) < BeaconHeaderLen {
		return Beacon{}, ErrTruncated
	}
	m := Beacon{
		Type:     BeaconType(b[5]),
		Instance: binary.BigEndian.Uint64(b[beaconInstanceOff:]),
		ChatPort: binary.BigEndian.Uint16(b[beaconPortOff:]),
	}
	copy(m.Key[:], b[beaconKeyOff:])
	n := int(b[BeaconHeaderLen-1])
	end := BeaconHeaderLen + n // of the name, and of the beacon unless padded
	size := end
	if m.Type == BeaconAnnounce {
		size = max(MaxBeaconLen, end)
	}
	switch {
	case len(b) < size:
		return Beacon{}, ErrTruncated
	case len(b) > size:
		return Beacon{}, fmt.Errorf("%w: %d bytes after the beacon's end", ErrMalformed, len(b)-size)
	}
	for _, z := range b[end:] {
		if z != 0 {
			return Beacon{}, fmt.Errorf("%w: an announcement's padding is not zero", ErrMalformed)
		}
	}
	m.Name = string(b[BeaconHeaderLen:end])
	if err := m.validate(); err != nil {
		return Beacon{}, err
	}
	return m, nil
}

func (m Beacon) validate() error {
	switch m.Type {
	case BeaconAnnounce, BeaconAnswer, BeaconLeave:
	default:
		return fmt.Errorf("%w: beacon type %d", ErrType, m.Type)
	}
	switch {
	case m.Key == [32]byte{}:
		return fmt.Errorf("%w: beacon with a zero key", ErrMalformed)
	case m.Instance == 0:
		return fmt.Errorf("%w: beacon with instance 0", ErrMalformed)
	case m.ChatPort == 0:
		return fmt.Errorf("%w: beacon with chat port 0", ErrMalformed)
	case len(m.Name) == 0 || len(m.Name) > MaxNameLen || !utf8.ValidString(m.Name):
		return fmt.Errorf("%w: beacon name must be 1 to %d bytes of UTF-8", ErrMalformed, MaxNameLen)
	}
	return nil
}
