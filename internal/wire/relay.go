package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Relay messages travel between a client and a udpchat relay (internal/relay,
// docs/PROTOCOL.md sections RL1-RL7), each one a packet inside the client's Noise
// session with the relay: a secure data datagram carries it, so the relay
// knows who sent it by the session's key. They start, as every udpchat
// datagram does, with the version byte (1) and a type byte; the relay types
// are 0x30 and up, apart from the transport's and the secure layer's, so a
// client can tell them from transport packets on the same session table.
//
//	 0   1      2
//	+---+------+-----------------------------------------------+
//	| 1 | type | body, by type (below)                         |
//	+---+------+-----------------------------------------------+
//
//	0x30 register      client → relay  addrs: the client's local addresses
//	0x31 registered    relay → client  addr (1): observed | refresh seconds (2)
//	0x32 lookup        client → relay  key (32): whose candidates
//	0x33 candidates    relay → client  key (32) | addrs: observed first, then local; none if not registered
//	0x34 call me maybe relay → client  key (32): who wants to talk | addrs: its candidates
//	0x35 forward       client → relay  key (32): to whom | datagram (1 or more)
//	0x36 deliver       relay → client  key (32): from whom | datagram (1 or more)
//	0x37 mail put      client → relay  key (32): for whom | nonce (8) | sealed blob (1 or more)
//	0x38 mail stored   relay → client  nonce (8) | status (1)
//	0x39 mail fetch    client → relay  (empty)
//	0x3a mail          relay → client  id (8) | stored at, Unix seconds (8) | sealed blob (1 or more)
//	0x3b mail ack      client → relay  id (8)
//	0x3c punch result  client → relay  key (32): the peer | outcome (1): 0 failed, 1 direct
//	0x3d room subscribe client → relay room (16) | on (1): 1 subscribe, 0 unsubscribe
//	0x3e room post     client → relay  room (16) | datagram (1 or more)
//	0x3f room deliver  relay → client  key (32): from whom | room (16) | datagram (1 or more)
//
// An address list is a count (1 byte, at most MaxRelayAddrs) and that many
// addresses; an address is a family byte (4 or 6), the IP (4 or 16 bytes)
// and the port (2). IPv4 is always family 4 (never an IPv4-mapped IPv6
// address), the port is never 0 and the IP never unspecified. Integers are
// unsigned, big-endian. Keys are X25519 public keys, never all zeros.

// Relay message types (the second byte).
const (
	TypeRelayRegister    RelayType = 0x30
	TypeRelayRegistered  RelayType = 0x31
	TypeRelayLookup      RelayType = 0x32
	TypeRelayCandidates  RelayType = 0x33
	TypeRelayCallMeMaybe RelayType = 0x34
	TypeRelayForward     RelayType = 0x35
	TypeRelayDeliver     RelayType = 0x36
	TypeRelayMailPut     RelayType = 0x37
	TypeRelayMailStored  RelayType = 0x38
	TypeRelayMailFetch   RelayType = 0x39
	TypeRelayMail        RelayType = 0x3a
	TypeRelayMailAck     RelayType = 0x3b
	TypeRelayPunchResult RelayType = 0x3c
	// The room fan-out (RL9): a room's members subscribe to its ID at
	// their relay; one post reaches every subscriber, at every relay of a
	// cluster.
	TypeRelayRoomSubscribe RelayType = 0x3d
	TypeRelayRoomPost      RelayType = 0x3e
	TypeRelayRoomDeliver   RelayType = 0x3f
)

// RelayType is a relay message's type.
type RelayType uint8

// Mail stored statuses.
const (
	MailStored   = 0 // the relay holds the blob until the recipient acknowledges it
	MailBoxFull  = 1 // the recipient's mailbox holds as many blobs as the relay allows
	MailTooLarge = 2 // the blob is over the relay's limit
	MailRefused  = 3 // the relay cannot store it now (its store failed, or it is over its rate)
)

// Punch outcomes.
const (
	PunchFailed = 0 // no direct path: the peers stay on the relay
	PunchDirect = 1 // a direct path carries the traffic
)

// Room subscribe's on.
const (
	RoomUnsubscribe = 0
	RoomSubscribe   = 1
)

// Relay sizes.
const (
	// MaxRelayAddrs bounds an address list: what a host has on its
	// interfaces that is worth trying, plus the observed address.
	MaxRelayAddrs = 8
	// MaxRelayMessage is the largest relay message: what one secure data
	// datagram carries (MaxDatagram less DataOverhead).
	MaxRelayMessage = MaxDatagram - DataOverhead
	// MaxRelayedDatagram is the largest datagram a forward carries: a
	// client sending through the relay builds its sealed datagrams this
	// small.
	MaxRelayedDatagram = MaxRelayMessage - 2 - 32
	// MaxMailBlob is the largest sealed blob a mail put carries.
	MaxMailBlob = MaxRelayMessage - 2 - 32 - 8
	// MaxRoomFanout is the largest room datagram a room post carries:
	// what a room deliver, which adds the sender's key, has room for.
	MaxRoomFanout = MaxRelayMessage - 2 - 32 - RoomIDLen
)

// RelayMessage is a decoded relay message. Which fields a type uses is in
// the table above; the others are zero.
type RelayMessage struct {
	Type RelayType
	// Key is the peer the message is about (lookup, candidates, call me
	// maybe, forward, deliver, mail put, punch result).
	Key [32]byte
	// Room is the room a room subscribe, post or deliver is for.
	Room [RoomIDLen]byte
	// Addrs: a register's local addresses; registered's observed address
	// (exactly one); candidates and call me maybe's candidates.
	Addrs []netip.AddrPort
	// Refresh is how often, in seconds, the relay wants the client to
	// register again (registered; never 0).
	Refresh uint16
	// ID is a register's and registered's, a lookup's and candidates', or a mail put's and mail stored's,
	// nonce (the client's, to match an answer to its request: a resent
	// request's late answer must not answer a later one), or a mail's and
	// mail ack's id (the relay's).
	ID uint64
	// StoredAt is when the relay stored a mail, in Unix seconds.
	StoredAt uint64
	// Status is mail stored's status, punch result's outcome or room
	// subscribe's on.
	Status uint8
	// Payload is a forward's, deliver's or room post's and deliver's
	// datagram, or a mail's sealed blob.
	// ParseRelay returns a slice of its input, not a copy.
	Payload []byte
}

// relayLayout says which fields a type carries, in order.
type relayLayout struct {
	key, room, addrs, observed, refresh, id, storedAt, status, payload bool
	maxPayload                                                         int
}

var relayLayouts = map[RelayType]relayLayout{
	TypeRelayRegister:      {addrs: true, id: true},
	TypeRelayRegistered:    {observed: true, refresh: true, id: true},
	TypeRelayLookup:        {key: true, id: true},
	TypeRelayCandidates:    {key: true, addrs: true, id: true},
	TypeRelayCallMeMaybe:   {key: true, addrs: true},
	TypeRelayForward:       {key: true, payload: true, maxPayload: MaxRelayedDatagram},
	TypeRelayDeliver:       {key: true, payload: true, maxPayload: MaxRelayedDatagram},
	TypeRelayMailPut:       {key: true, id: true, payload: true, maxPayload: MaxMailBlob},
	TypeRelayMailStored:    {id: true, status: true},
	TypeRelayMailFetch:     {},
	TypeRelayMail:          {id: true, storedAt: true, payload: true, maxPayload: MaxMailBlob},
	TypeRelayMailAck:       {id: true},
	TypeRelayPunchResult:   {key: true, status: true},
	TypeRelayRoomSubscribe: {room: true, status: true},
	TypeRelayRoomPost:      {room: true, payload: true, maxPayload: MaxRoomFanout},
	TypeRelayRoomDeliver:   {key: true, room: true, payload: true, maxPayload: MaxRoomFanout},
}

// IsRelayMessage reports whether b looks like a relay message (its version
// and type), so a client can route it before parsing it.
func IsRelayMessage(b []byte) bool {
	if len(b) < 2 || b[0] != Version {
		return false
	}
	_, ok := relayLayouts[RelayType(b[1])]
	return ok
}

// AppendRelay appends m's encoding to b, or fails (leaving b as it was) if
// m is not a message ParseRelay would accept.
func AppendRelay(b []byte, m RelayMessage) ([]byte, error) {
	l, err := m.validate()
	if err != nil {
		return b, err
	}
	out := append(b, Version, byte(m.Type))
	if l.key {
		out = append(out, m.Key[:]...)
	}
	if l.room {
		out = append(out, m.Room[:]...)
	}
	if l.observed {
		out = appendAddr(out, m.Addrs[0])
	}
	if l.addrs {
		out = append(out, byte(len(m.Addrs)))
		for _, a := range m.Addrs {
			out = appendAddr(out, a)
		}
	}
	if l.refresh {
		out = binary.BigEndian.AppendUint16(out, m.Refresh)
	}
	if l.id {
		out = binary.BigEndian.AppendUint64(out, m.ID)
	}
	if l.storedAt {
		out = binary.BigEndian.AppendUint64(out, m.StoredAt)
	}
	if l.status {
		out = append(out, m.Status)
	}
	out = append(out, m.Payload...)
	return out, nil
}

// ParseRelay decodes one relay message, which must fill b exactly.
// Anything else is an error wrapping one of the package's sentinels.
func ParseRelay(b []byte) (RelayMessage, error) {
	if len(b) > MaxRelayMessage {
		return RelayMessage{}, fmt.Errorf("%w: a relay message of %d bytes, over %d", ErrTooBig, len(b), MaxRelayMessage)
	}
	if len(b) < 2 {
		return RelayMessage{}, ErrTruncated
	}
	if b[0] != Version {
		return RelayMessage{}, fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	m := RelayMessage{Type: RelayType(b[1])}
	l, ok := relayLayouts[m.Type]
	if !ok {
		return RelayMessage{}, fmt.Errorf("%w 0x%02x (relay)", ErrType, b[1])
	}
	r := b[2:]
	take := func(n int) ([]byte, bool) {
		if len(r) < n {
			return nil, false
		}
		f := r[:n]
		r = r[n:]
		return f, true
	}
	var f []byte
	if l.key {
		if f, ok = take(32); !ok {
			return RelayMessage{}, ErrTruncated
		}
		copy(m.Key[:], f)
	}
	if l.room {
		if f, ok = take(RoomIDLen); !ok {
			return RelayMessage{}, ErrTruncated
		}
		copy(m.Room[:], f)
	}
	if l.observed {
		a, rest, err := parseAddr(r)
		if err != nil {
			return RelayMessage{}, err
		}
		m.Addrs, r = []netip.AddrPort{a}, rest
	}
	if l.addrs {
		if f, ok = take(1); !ok {
			return RelayMessage{}, ErrTruncated
		}
		n := int(f[0])
		if n > MaxRelayAddrs {
			return RelayMessage{}, fmt.Errorf("%w: %d addresses, over %d", ErrMalformed, n, MaxRelayAddrs)
		}
		for range n {
			a, rest, err := parseAddr(r)
			if err != nil {
				return RelayMessage{}, err
			}
			m.Addrs, r = append(m.Addrs, a), rest
		}
	}
	if l.refresh {
		if f, ok = take(2); !ok {
			return RelayMessage{}, ErrTruncated
		}
		m.Refresh = binary.BigEndian.Uint16(f)
	}
	if l.id {
		if f, ok = take(8); !ok {
			return RelayMessage{}, ErrTruncated
		}
		m.ID = binary.BigEndian.Uint64(f)
	}
	if l.storedAt {
		if f, ok = take(8); !ok {
			return RelayMessage{}, ErrTruncated
		}
		m.StoredAt = binary.BigEndian.Uint64(f)
	}
	if l.status {
		if f, ok = take(1); !ok {
			return RelayMessage{}, ErrTruncated
		}
		m.Status = f[0]
	}
	if l.payload {
		m.Payload = r
	} else if len(r) > 0 {
		return RelayMessage{}, fmt.Errorf("%w: %d bytes after a relay message's end", ErrMalformed, len(r))
	}
	if _, err := m.validate(); err != nil {
		return RelayMessage{}, err
	}
	return m, nil
}

func (m RelayMessage) validate() (relayLayout, error) {
	l, ok := relayLayouts[m.Type]
	if !ok {
		return l, fmt.Errorf("%w 0x%02x (relay)", ErrType, byte(m.Type))
	}
	switch {
	case l.key && m.Key == [32]byte{}:
		return l, fmt.Errorf("%w: relay message with a zero key", ErrMalformed)
	case l.observed && len(m.Addrs) != 1:
		return l, fmt.Errorf("%w: registered carries one observed address, not %d", ErrMalformed, len(m.Addrs))
	case l.addrs && len(m.Addrs) > MaxRelayAddrs:
		return l, fmt.Errorf("%w: %d addresses, over %d", ErrMalformed, len(m.Addrs), MaxRelayAddrs)
	case !l.addrs && !l.observed && len(m.Addrs) > 0:
		return l, fmt.Errorf("%w: relay message type 0x%02x carries no addresses", ErrMalformed, byte(m.Type))
	case l.refresh && m.Refresh == 0:
		return l, fmt.Errorf("%w: a refresh interval of 0", ErrMalformed)
	case l.payload && len(m.Payload) == 0:
		return l, fmt.Errorf("%w: relay message type 0x%02x with nothing in it", ErrMalformed, byte(m.Type))
	case l.payload && len(m.Payload) > l.maxPayload:
		return l, fmt.Errorf("%w: %d bytes, over the %d a relay message type 0x%02x carries", ErrTooBig, len(m.Payload), l.maxPayload, byte(m.Type))
	case !l.payload && len(m.Payload) > 0:
		return l, fmt.Errorf("%w: relay message type 0x%02x carries no payload", ErrMalformed, byte(m.Type))
	case m.Type == TypeRelayMailStored && m.Status > MailRefused:
		return l, fmt.Errorf("%w: mail status %d", ErrMalformed, m.Status)
	case m.Type == TypeRelayPunchResult && m.Status > PunchDirect:
		return l, fmt.Errorf("%w: punch outcome %d", ErrMalformed, m.Status)
	case m.Type == TypeRelayRoomSubscribe && m.Status > RoomSubscribe:
		return l, fmt.Errorf("%w: room subscribe %d", ErrMalformed, m.Status)
	case !l.room && m.Room != [RoomIDLen]byte{}:
		return l, fmt.Errorf("%w: relay message type 0x%02x carries no room", ErrMalformed, byte(m.Type))
	case !l.status && m.Status != 0, !l.id && m.ID != 0, !l.storedAt && m.StoredAt != 0, !l.refresh && m.Refresh != 0,
		!l.key && m.Key != [32]byte{}:
		return l, fmt.Errorf("%w: relay message type 0x%02x with a field it does not carry", ErrMalformed, byte(m.Type))
	}
	for _, a := range m.Addrs {
		if err := checkAddr(a); err != nil {
			return l, err
		}
	}
	return l, nil
}

func checkAddr(a netip.AddrPort) error {
	ip := a.Addr()
	switch {
	case !ip.IsValid() || ip.IsUnspecified():
		return fmt.Errorf("%w: address %v is no place to send to", ErrMalformed, a)
	case ip.Is4In6():
		return fmt.Errorf("%w: address %v is IPv4 written as IPv6", ErrMalformed, a)
	case ip.Zone() != "":
		return fmt.Errorf("%w: address %v has a zone, which means nothing to another host", ErrMalformed, a)
	case a.Port() == 0:
		return fmt.Errorf("%w: address %v has port 0", ErrMalformed, a)
	}
	return nil
}

func appendAddr(b []byte, a netip.AddrPort) []byte {
	if a.Addr().Is4() {
		ip := a.Addr().As4()
		b = append(append(b, 4), ip[:]...)
	} else {
		ip := a.Addr().As16()
		b = append(append(b, 6), ip[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port())
}

func parseAddr(b []byte) (netip.AddrPort, []byte, error) {
	if len(b) < 1 {
		return netip.AddrPort{}, nil, ErrTruncated
	}
	var n int
	switch b[0] {
	case 4:
		n = 4
	case 6:
		n = 16
	default:
		return netip.AddrPort{}, nil, fmt.Errorf("%w: address family %d", ErrMalformed, b[0])
	}
	if len(b) < 1+n+2 {
		return netip.AddrPort{}, nil, ErrTruncated
	}
	ip, _ := netip.AddrFromSlice(b[1 : 1+n])
	a := netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[1+n:]))
	if err := checkAddr(a); err != nil {
		return netip.AddrPort{}, nil, err
	}
	return a, b[1+n+2:], nil
}
