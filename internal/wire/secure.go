package wire

import (
	"encoding/binary"
	"fmt"
)

// The secure layer's datagrams (internal/secure): Noise handshake messages,
// cookie replies and encrypted transport data. Like every udpchat datagram
// they start with the version byte (1) and a type byte; the secure types are
// 0x10 and up, so they never clash with TypeTransport (0x01), which on an
// encrypted link only ever travels inside a data datagram.
//
// Indexes are random 32-bit numbers each side picks for a handshake; the peer
// echoes them back, so a datagram finds its state without revealing who sent
// it. Multi-byte integers are big-endian. The Noise fields are the messages
// of Noise_XX_25519_ChaChaPoly_BLAKE2s and Noise_IK_25519_ChaChaPoly_BLAKE2s
// with empty payloads (docs/PROTOCOL.md, section S3).
//
// Handshake initiation (XX and IK alike are InitiationLen = 134 bytes; the XX
// one is padded with zeros, so no reply is ever larger than the initiation
// that caused it):
//
//	 0   1      2        6                               102      118      134
//	+---+------+--------+-------------------------------+--------+--------+
//	| 1 | 0x10 | sender | Noise XX msg1 (32) | zeros (64)| mac1   | mac2   |
//	| 1 | 0x11 | sender | Noise IK msg1 (96)            | (16)   | (16)   |
//	+---+------+--------+-------------------------------+--------+--------+
//
// Handshake response (XX: 106 bytes, IK: 58 bytes):
//
//	 0   1      2        6          10
//	+---+------+--------+----------+-----------------------------------+
//	| 1 | 0x12 | sender | receiver | Noise XX msg2 (96)                |
//	| 1 | 0x13 | sender | receiver | Noise IK msg2 (48)                |
//	+---+------+--------+----------+-----------------------------------+
//
// XX's third message (70 bytes), cookie reply (62 bytes) and transport data
// (30 bytes more than the packet it carries):
//
//	+---+------+----------+------------------------------+
//	| 1 | 0x14 | receiver | Noise XX msg3 (64)           |
//	+---+------+----------+------------+-----------------+
//	| 1 | 0x15 | receiver | nonce (24) | sealed cookie (32) |
//	+---+------+----------+------------+-----------------+
//	| 1 | 0x16 | receiver | counter (8)| ciphertext (packet + 16) |
//	+---+------+----------+------------+-----------------+
//	 0   1      2          6            14
//
// Refusal (RefusedLen = 30 bytes): a data datagram's header with its own
// type, and no packet, only the tag: sealed in a session whose peer's key
// the sender refused (docs/PROTOCOL.md, section S4.6).
//
//	+---+------+----------+------------+----------+
//	| 1 | 0x17 | receiver | counter (8)| tag (16) |
//	+---+------+----------+------------+----------+

// Secure datagram types (the second byte).
const (
	TypeInitXX   = 0x10 // handshake initiation, Noise XX message 1
	TypeInitIK   = 0x11 // handshake initiation, Noise IK message 1
	TypeRespXX   = 0x12 // handshake response, Noise XX message 2
	TypeRespIK   = 0x13 // handshake response, Noise IK message 2
	TypeFinishXX = 0x14 // Noise XX message 3, from the initiator
	TypeCookie   = 0x15 // cookie reply: "prove your address first"
	TypeData     = 0x16 // an encrypted transport packet
	TypeRefused  = 0x17 // "I refuse your key", sealed in the session it refuses
)

// Field sizes.
const (
	IndexLen       = 4  // a sender or receiver index
	CounterLen     = 8  // a data datagram's counter, which is its AEAD nonce
	MACLen         = 16 // mac1, mac2, and a cookie: keyed BLAKE2s-128
	TagLen         = 16 // a ChaCha20-Poly1305 authentication tag
	CookieNonceLen = 24 // XChaCha20-Poly1305 nonce of a cookie reply

	// The Noise messages, with empty payloads. 32 is an X25519 public key; a
	// static key travels encrypted (32 + TagLen); every message but XX's first
	// ends with the (empty) payload's tag.
	NoiseInitXXLen   = 32                   // e
	NoiseInitIKLen   = 32 + 48 + TagLen     // e, es, s, ss
	NoiseRespXXLen   = 32 + 48 + TagLen     // e, ee, s, es
	NoiseRespIKLen   = 32 + TagLen          // e, ee, se
	NoiseFinishXXLen = 48 + TagLen          // s, se
	initPadXXLen     = 64                   // zeros after an XX msg1, so both initiations are the same size
	sealedCookieLen  = MACLen + TagLen      // the cookie, encrypted
	prefixLen        = 2                    // version and type
	initNoiseOff     = prefixLen + IndexLen // where an initiation's Noise message starts
)

// Datagram sizes and offsets.
const (
	// InitiationLen is the size of every initiation: the largest datagram a
	// responder can be made to answer, and larger than any answer.
	InitiationLen = initNoiseOff + NoiseInitIKLen + 2*MACLen
	// InitMAC1Offset and InitMAC2Offset locate the MACs in an initiation:
	// mac1 covers the bytes before it, mac2 the bytes before it (mac1 too).
	InitMAC1Offset = InitiationLen - 2*MACLen
	InitMAC2Offset = InitiationLen - MACLen

	RespXXLen      = prefixLen + 2*IndexLen + NoiseRespXXLen
	RespIKLen      = prefixLen + 2*IndexLen + NoiseRespIKLen
	FinishXXLen    = prefixLen + IndexLen + NoiseFinishXXLen
	CookieReplyLen = prefixLen + IndexLen + CookieNonceLen + sealedCookieLen

	// DataHeaderLen is a data datagram's cleartext header: version, type,
	// receiver index, counter. It is the AEAD's additional data.
	DataHeaderLen = prefixLen + IndexLen + CounterLen
	// DataOverhead is what a data datagram adds to the packet it carries.
	DataOverhead = DataHeaderLen + TagLen
	// RefusedLen is a refusal's size: a data datagram with no packet.
	RefusedLen = DataOverhead
)

// Initiation is a handshake initiation (TypeInitXX or TypeInitIK).
type Initiation struct {
	Type   byte   // TypeInitXX or TypeInitIK
	Sender uint32 // the initiator's index for this handshake
	// Noise is the Noise message 1: NoiseInitXXLen bytes for XX,
	// NoiseInitIKLen for IK. Parse returns a slice of the datagram.
	Noise []byte
	MAC1  [MACLen]byte
	MAC2  [MACLen]byte // zero unless the initiator holds a cookie
}

// NoiseLen is the length of the Noise message an initiation of type t
// carries, or 0 if t is not an initiation type.
func initNoiseLen(t byte) int {
	switch t {
	case TypeInitXX:
		return NoiseInitXXLen
	case TypeInitIK:
		return NoiseInitIKLen
	}
	return 0
}

// Append appends the initiation, padded to InitiationLen. It panics if Type
// or the length of Noise is wrong: that is a bug in the caller.
func (m *Initiation) Append(b []byte) []byte {
	n := initNoiseLen(m.Type)
	if n == 0 || len(m.Noise) != n {
		panic(fmt.Sprintf("wire: initiation of type 0x%02x with a Noise message of %d bytes", m.Type, len(m.Noise)))
	}
	b = append(b, Version, m.Type)
	b = binary.BigEndian.AppendUint32(b, m.Sender)
	b = append(b, m.Noise...)
	for range NoiseInitIKLen - n {
		b = append(b, 0)
	}
	b = append(b, m.MAC1[:]...)
	return append(b, m.MAC2[:]...)
}

// ParseInitiation decodes an initiation. Its Noise field aliases b.
func ParseInitiation(b []byte) (Initiation, error) {
	t, err := parsePrefix(b, InitiationLen, TypeInitXX, TypeInitIK)
	if err != nil {
		return Initiation{}, err
	}
	n := initNoiseLen(t)
	for _, z := range b[initNoiseOff+n : InitMAC1Offset] {
		if z != 0 {
			return Initiation{}, fmt.Errorf("%w: initiation padding is not zero", ErrMalformed)
		}
	}
	m := Initiation{
		Type:   t,
		Sender: binary.BigEndian.Uint32(b[prefixLen:]),
		Noise:  b[initNoiseOff : initNoiseOff+n],
	}
	copy(m.MAC1[:], b[InitMAC1Offset:])
	copy(m.MAC2[:], b[InitMAC2Offset:])
	return m, nil
}

// Response is a handshake response (TypeRespXX or TypeRespIK).
type Response struct {
	Type     byte   // TypeRespXX or TypeRespIK
	Sender   uint32 // the responder's index
	Receiver uint32 // the initiator's index, from the initiation
	Noise    []byte // NoiseRespXXLen or NoiseRespIKLen bytes; Parse aliases the datagram
}

func respLen(t byte) int {
	switch t {
	case TypeRespXX:
		return RespXXLen
	case TypeRespIK:
		return RespIKLen
	}
	return 0
}

// Append appends the response. It panics if Type or the length of Noise is
// wrong.
func (m *Response) Append(b []byte) []byte {
	n := respLen(m.Type)
	if n == 0 || len(m.Noise) != n-prefixLen-2*IndexLen {
		panic(fmt.Sprintf("wire: response of type 0x%02x with a Noise message of %d bytes", m.Type, len(m.Noise)))
	}
	b = append(b, Version, m.Type)
	b = binary.BigEndian.AppendUint32(b, m.Sender)
	b = binary.BigEndian.AppendUint32(b, m.Receiver)
	return append(b, m.Noise...)
}

// ParseResponse decodes a response. Its Noise field aliases b.
func ParseResponse(b []byte) (Response, error) {
	if len(b) > MaxDatagram {
		return Response{}, errTooBigDatagram(len(b), MaxDatagram)
	}
	if len(b) < prefixLen {
		return Response{}, ErrTruncated
	}
	// The length depends on the type; check the type first.
	want := respLen(b[1])
	if b[0] == Version && want == 0 {
		return Response{}, fmt.Errorf("%w 0x%02x", ErrType, b[1])
	}
	if _, err := parsePrefix(b, want, TypeRespXX, TypeRespIK); err != nil {
		return Response{}, err
	}
	return Response{
		Type:     b[1],
		Sender:   binary.BigEndian.Uint32(b[prefixLen:]),
		Receiver: binary.BigEndian.Uint32(b[prefixLen+IndexLen:]),
		Noise:    b[prefixLen+2*IndexLen:],
	}, nil
}

// Finish is Noise XX's third message, from the initiator.
type Finish struct {
	Receiver uint32 // the responder's index, from the response
	Noise    []byte // NoiseFinishXXLen bytes; Parse aliases the datagram
}

// Append appends the message. It panics if Noise has the wrong length.
func (m *Finish) Append(b []byte) []byte {
	if len(m.Noise) != NoiseFinishXXLen {
		panic(fmt.Sprintf("wire: XX finish with a Noise message of %d bytes", len(m.Noise)))
	}
	b = append(b, Version, TypeFinishXX)
	b = binary.BigEndian.AppendUint32(b, m.Receiver)
	return append(b, m.Noise...)
}

// ParseFinish decodes an XX third message. Its Noise field aliases b.
func ParseFinish(b []byte) (Finish, error) {
	if _, err := parsePrefix(b, FinishXXLen, TypeFinishXX); err != nil {
		return Finish{}, err
	}
	return Finish{
		Receiver: binary.BigEndian.Uint32(b[prefixLen:]),
		Noise:    b[prefixLen+IndexLen:],
	}, nil
}

// CookieReply tells an initiator to prove its address: it carries a cookie,
// encrypted, that the initiator uses to compute mac2 of its next initiation.
type CookieReply struct {
	Receiver uint32 // the initiator's index, from the initiation
	Nonce    [CookieNonceLen]byte
	Cookie   [sealedCookieLen]byte // the cookie, sealed with XChaCha20-Poly1305
}

// Append appends the reply.
func (m *CookieReply) Append(b []byte) []byte {
	b = append(b, Version, TypeCookie)
	b = binary.BigEndian.AppendUint32(b, m.Receiver)
	b = append(b, m.Nonce[:]...)
	return append(b, m.Cookie[:]...)
}

// ParseCookieReply decodes a cookie reply.
func ParseCookieReply(b []byte) (CookieReply, error) {
	if _, err := parsePrefix(b, CookieReplyLen, TypeCookie); err != nil {
		return CookieReply{}, err
	}
	m := CookieReply{Receiver: binary.BigEndian.Uint32(b[prefixLen:])}
	copy(m.Nonce[:], b[prefixLen+IndexLen:])
	copy(m.Cookie[:], b[prefixLen+IndexLen+CookieNonceLen:])
	return m, nil
}

// DataHeader is the cleartext header of a data datagram.
type DataHeader struct {
	Receiver uint32 // the index the receiver chose for the session
	Counter  uint64 // the AEAD nonce; never repeats within a session
}

// AppendDataHeader appends a data datagram's header; the sealed packet
// follows it.
func AppendDataHeader(b []byte, h DataHeader) []byte { return appendSealedHeader(b, TypeData, h) }

// AppendRefusedHeader appends a refusal's header; the tag of an empty
// plaintext, sealed with the header as additional data, follows it.
func AppendRefusedHeader(b []byte, h DataHeader) []byte { return appendSealedHeader(b, TypeRefused, h) }

func appendSealedHeader(b []byte, t byte, h DataHeader) []byte {
	b = append(b, Version, t)
	b = binary.BigEndian.AppendUint32(b, h.Receiver)
	return binary.BigEndian.AppendUint64(b, h.Counter)
}

// ParseData decodes a data datagram's header and returns it with the
// ciphertext that follows (a slice of b, at least TagLen bytes).
func ParseData(b []byte) (DataHeader, []byte, error) { return parseSealed(b, TypeData) }

// ParseRefused decodes a refusal's header and returns it with the tag
// that follows (a slice of b). A refusal is exactly RefusedLen bytes.
func ParseRefused(b []byte) (DataHeader, []byte, error) {
	h, tag, err := parseSealed(b, TypeRefused)
	if err == nil && len(b) != RefusedLen {
		err = ErrMalformed
	}
	return h, tag, err
}

func parseSealed(b []byte, t byte) (DataHeader, []byte, error) {
	if len(b) > MaxPathDatagram {
		return DataHeader{}, nil, errTooBigDatagram(len(b), MaxPathDatagram)
	}
	if err := checkPrefix(b, t); err != nil {
		return DataHeader{}, nil, err
	}
	if len(b) < DataOverhead {
		return DataHeader{}, nil, ErrTruncated
	}
	h := DataHeader{
		Receiver: binary.BigEndian.Uint32(b[prefixLen:]),
		Counter:  binary.BigEndian.Uint64(b[prefixLen+IndexLen:]),
	}
	return h, b[DataHeaderLen:], nil
}

// SecureType returns the type of a secure-layer datagram after checking its
// version and that the type is one of the secure ones, so a receiver can
// dispatch on it. Transport packets (TypeTransport) are not secure datagrams.
func SecureType(b []byte) (byte, error) {
	if len(b) > MaxPathDatagram {
		return 0, errTooBigDatagram(len(b), MaxPathDatagram)
	}
	if len(b) < prefixLen {
		return 0, ErrTruncated
	}
	if b[0] != Version {
		return 0, fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	if b[1] < TypeInitXX || b[1] > TypeRefused {
		return 0, fmt.Errorf("%w 0x%02x", ErrType, b[1])
	}
	return b[1], nil
}

// checkPrefix checks the version and that the type is one of types.
func checkPrefix(b []byte, types ...byte) error {
	if len(b) < prefixLen {
		return ErrTruncated
	}
	if b[0] != Version {
		return fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	for _, t := range types {
		if b[1] == t {
			return nil
		}
	}
	return fmt.Errorf("%w 0x%02x", ErrType, b[1])
}

// parsePrefix checks the version and type of a fixed-size datagram and that
// it is exactly size bytes long, and returns the type.
func parsePrefix(b []byte, size int, types ...byte) (byte, error) {
	if len(b) > MaxDatagram {
		return 0, errTooBigDatagram(len(b), MaxDatagram)
	}
	if err := checkPrefix(b, types...); err != nil {
		return 0, err
	}
	switch {
	case len(b) < size:
		return 0, ErrTruncated
	case len(b) > size:
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), size)
	}
	return b[1], nil
}
