package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var relayKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// relayGolden pins the byte layouts docs/PROTOCOL.md section R gives.
var relayGolden = []struct {
	name string
	m    RelayMessage
	hex  string
}{
	{"register", RelayMessage{Type: TypeRelayRegister, Addrs: []netip.AddrPort{
		netip.MustParseAddrPort("192.168.1.2:7475"), netip.MustParseAddrPort("[2001:db8::1]:7475")}, ID: 3},
		"01 30 02 04 c0a80102 1d33 06 20010db8000000000000000000000001 1d33 0000000000000003"},
	{"register, no local addresses", RelayMessage{Type: TypeRelayRegister, ID: 3}, "01 30 00 0000000000000003"},
	{"registered", RelayMessage{Type: TypeRelayRegistered, Addrs: []netip.AddrPort{netip.MustParseAddrPort("203.0.113.7:40000")}, Refresh: 25, ID: 3},
		"01 31 04 cb007107 9c40 0019 0000000000000003"},
	{"lookup", RelayMessage{Type: TypeRelayLookup, Key: relayKey, ID: 5}, "01 32" + beaconKeyHex + "0000000000000005"},
	{"candidates, none", RelayMessage{Type: TypeRelayCandidates, Key: relayKey, ID: 5}, "01 33" + beaconKeyHex + "00 0000000000000005"},
	{"call me maybe", RelayMessage{Type: TypeRelayCallMeMaybe, Key: relayKey, Addrs: []netip.AddrPort{netip.MustParseAddrPort("203.0.113.7:40000")}},
		"01 34" + beaconKeyHex + "01 04 cb007107 9c40"},
	{"forward", RelayMessage{Type: TypeRelayForward, Key: relayKey, Payload: []byte{1, 0x16, 9}}, "01 35" + beaconKeyHex + "011609"},
	{"deliver", RelayMessage{Type: TypeRelayDeliver, Key: relayKey, Payload: []byte{1}}, "01 36" + beaconKeyHex + "01"},
	{"mail put", RelayMessage{Type: TypeRelayMailPut, Key: relayKey, ID: 7, Payload: []byte{0xaa}}, "01 37" + beaconKeyHex + "0000000000000007 aa"},
	{"mail stored", RelayMessage{Type: TypeRelayMailStored, ID: 7, Status: MailBoxFull}, "01 38 0000000000000007 01"},
	{"mail fetch", RelayMessage{Type: TypeRelayMailFetch}, "01 39"},
	{"mail", RelayMessage{Type: TypeRelayMail, ID: 9, StoredAt: 1_700_000_000, Payload: []byte{0xbb}}, "01 3a 0000000000000009 000000006553f100 bb"},
	{"mail ack", RelayMessage{Type: TypeRelayMailAck, ID: 9}, "01 3b 0000000000000009"},
	{"punch result", RelayMessage{Type: TypeRelayPunchResult, Key: relayKey, Status: PunchDirect}, "01 3c" + beaconKeyHex + "01"},
	{"room subscribe", RelayMessage{Type: TypeRelayRoomSubscribe, Room: relayRoom, Status: RoomSubscribe}, "01 3d" + relayRoomHex + "01"},
	{"room unsubscribe", RelayMessage{Type: TypeRelayRoomSubscribe, Room: relayRoom}, "01 3d" + relayRoomHex + "00"},
	{"room post", RelayMessage{Type: TypeRelayRoomPost, Room: relayRoom, Payload: []byte{0xcc, 0xdd}}, "01 3e" + relayRoomHex + "ccdd"},
	{"room deliver", RelayMessage{Type: TypeRelayRoomDeliver, Key: relayKey, Room: relayRoom, Payload: []byte{0xcc}}, "01 3f" + beaconKeyHex + relayRoomHex + "cc"},
}

const relayRoomHex = "00112233445566778899aabbccddeeff"

var relayRoom = [RoomIDLen]byte(mustHex(relayRoomHex))

func TestRelayGolden(t *testing.T) {
	for _, tc := range relayGolden {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.hex)
			got, err := AppendRelay([]byte{0xff}, tc.m)
			if err != nil || !bytes.Equal(got[1:], want) || got[0] != 0xff {
				t.Fatalf("AppendRelay = %x, %v; want ff%x", got, err, want)
			}
			m, err := ParseRelay(want)
			if err != nil {
				t.Fatalf("ParseRelay: %v", err)
			}
			if len(m.Payload) == 0 {
				m.Payload = tc.m.Payload
			}
			if !reflect.DeepEqual(m, tc.m) {
				t.Fatalf("ParseRelay = %+v, want %+v", m, tc.m)
			}
			if !IsRelayMessage(want) {
				t.Errorf("IsRelayMessage(%x) = false", want)
			}
		})
	}
}

func TestRelayRefusesWhatItCannotCarry(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.1:1")
	for _, tc := range []struct {
		name string
		m    RelayMessage
		want error
	}{
		{"unknown type", RelayMessage{Type: 0x40}, ErrType},
		{"room subscribe 2", RelayMessage{Type: TypeRelayRoomSubscribe, Room: relayRoom, Status: 2}, ErrMalformed},
		{"empty room post", RelayMessage{Type: TypeRelayRoomPost, Room: relayRoom}, ErrMalformed},
		{"room post too big", RelayMessage{Type: TypeRelayRoomPost, Room: relayRoom, Payload: make([]byte, MaxRoomFanout+1)}, ErrTooBig},
		{"room on a forward", RelayMessage{Type: TypeRelayForward, Key: relayKey, Room: relayRoom, Payload: []byte{1}}, ErrMalformed},
		{"zero key", RelayMessage{Type: TypeRelayLookup}, ErrMalformed},
		{"empty forward", RelayMessage{Type: TypeRelayForward, Key: relayKey}, ErrMalformed},
		{"forward too big", RelayMessage{Type: TypeRelayForward, Key: relayKey, Payload: make([]byte, MaxRelayedDatagram+1)}, ErrTooBig},
		{"mail too big", RelayMessage{Type: TypeRelayMailPut, Key: relayKey, Payload: make([]byte, MaxMailBlob+1)}, ErrTooBig},
		{"too many addresses", RelayMessage{Type: TypeRelayRegister, Addrs: make([]netip.AddrPort, MaxRelayAddrs+1)}, ErrMalformed},
		{"registered without address", RelayMessage{Type: TypeRelayRegistered, Refresh: 25}, ErrMalformed},
		{"registered refresh 0", RelayMessage{Type: TypeRelayRegistered, Addrs: []netip.AddrPort{addr}}, ErrMalformed},
		{"port 0", RelayMessage{Type: TypeRelayRegister, Addrs: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:0")}}, ErrMalformed},
		{"unspecified", RelayMessage{Type: TypeRelayRegister, Addrs: []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:1")}}, ErrMalformed},
		{"mapped", RelayMessage{Type: TypeRelayRegister, Addrs: []netip.AddrPort{netip.MustParseAddrPort("[::ffff:192.0.2.1]:1")}}, ErrMalformed},
		{"zone", RelayMessage{Type: TypeRelayRegister, Addrs: []netip.AddrPort{netip.MustParseAddrPort("[fe80::1%eth0]:1")}}, ErrMalformed},
		{"stray field", RelayMessage{Type: TypeRelayMailFetch, ID: 1}, ErrMalformed},
		{"bad status", RelayMessage{Type: TypeRelayMailStored, Status: 9}, ErrMalformed},
		{"bad outcome", RelayMessage{Type: TypeRelayPunchResult, Key: relayKey, Status: 2}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendRelay([]byte{0xff}, tc.m)
			if !errors.Is(err, tc.want) || len(b) != 1 {
				t.Fatalf("AppendRelay = %x, %v; want %v and b unchanged", b, err, tc.want)
			}
		})
	}
}

func TestParseRelayRefusesMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      error
	}{
		{"empty", "", ErrTruncated},
		{"version", "02 30 00", ErrVersion},
		{"transport type", "01 01", ErrType},
		{"truncated key", "01 32 0102", ErrTruncated},
		{"trailing bytes", "01 39 00", ErrMalformed},
		{"address count over", "01 30 09", ErrMalformed},
		{"address family", "01 30 01 05 c0a80102 1d33", ErrMalformed},
		{"address truncated", "01 30 01 04 c0a801", ErrTruncated},
		{"addresses missing", "01 30 02 04 c0a80102 1d33", ErrTruncated},
		{"mapped address", "01 30 01 06 00000000000000000000ffffc0a80102 1d33", ErrMalformed},
		{"zero key", "01 32" + strings.Repeat("00", 32+8), ErrMalformed},
		{"empty deliver", "01 36" + beaconKeyHex, ErrMalformed},
		{"over MaxRelayMessage", "01 36" + beaconKeyHex + strings.Repeat("00", MaxRelayedDatagram+1), ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRelay(mustHex(tc.hex)); !errors.Is(err, tc.want) {
				t.Fatalf("ParseRelay(%s) = %v, want %v", tc.hex, err, tc.want)
			}
		})
	}
	if IsRelayMessage(mustHex("01 01")) || IsRelayMessage(mustHex("01 16")) || IsRelayMessage(nil) {
		t.Error("IsRelayMessage takes a transport or secure datagram for a relay message")
	}
}

func FuzzParseRelay(f *testing.F) {
	for _, tc := range relayGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(mustHex("01 30 01 06 00000000000000000000ffffc0a80102 1d33"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseRelay(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		enc, err := AppendRelay(nil, m)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("AppendRelay(%+v) = %x, %v; parsed from %x", m, enc, err, b)
		}
	})
}
