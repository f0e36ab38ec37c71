package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var beaconKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

const beaconKeyHex = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

// beaconGolden: magic, version, type, key, instance, chat port, name length,
// name, and for an announcement zeros to MaxBeaconLen.
var beaconGolden = []struct {
	name string
	m    Beacon
	hex  string
}{
	{
		name: "announce",
		m:    Beacon{Type: BeaconAnnounce, Key: beaconKey, Instance: 0x1122334455667788, ChatPort: 7475, Name: "carol"},
		hex:  "55445063 01 01" + beaconKeyHex + "1122334455667788 1d33 05 6361726f6c" + strings.Repeat("00", MaxNameLen-5),
	},
	{
		name: "answer",
		m:    Beacon{Type: BeaconAnswer, Key: beaconKey, Instance: 1, ChatPort: 65535, Name: "é"},
		hex:  "55445063 01 02" + beaconKeyHex + "0000000000000001 ffff 02 c3a9",
	},
	{
		name: "leave",
		m:    Beacon{Type: BeaconLeave, Key: beaconKey, Instance: 2, ChatPort: 1, Name: "x"},
		hex:  "55445063 01 03" + beaconKeyHex + "0000000000000002 0001 01 78",
	},
}

func TestBeaconGolden(t *testing.T) {
	for _, tc := range beaconGolden {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.hex)
			got, err := AppendBeacon(nil, tc.m)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("AppendBeacon = %x, %v; want %x", got, err, want)
			}
			m, err := ParseBeacon(want)
			if err != nil || m != tc.m {
				t.Fatalf("ParseBeacon = %+v, %v; want %+v", m, err, tc.m)
			}
			// Every strict prefix is refused as truncated.
			for i := range len(want) {
				if _, err := ParseBeacon(want[:i]); !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseBeacon of the first %d bytes: %v, want ErrTruncated", i, err)
				}
			}
		})
	}
}

// Answering an announcement never sends more bytes than it had: every
// announcement is as long as the longest answer.
func TestBeaconNoAmplification(t *testing.T) {
	for n := 1; n <= MaxNameLen; n++ {
		m := Beacon{Type: BeaconAnnounce, Key: beaconKey, Instance: 7, ChatPort: 7475, Name: strings.Repeat("n", n)}
		ann, err := AppendBeacon(nil, m)
		if err != nil || len(ann) != MaxBeaconLen {
			t.Fatalf("announcement with a %d-byte name: %d bytes, %v; want %d", n, len(ann), err, MaxBeaconLen)
		}
		for _, typ := range []BeaconType{BeaconAnswer, BeaconLeave} {
			m.Type = typ
			if b, _ := AppendBeacon(nil, m); len(b) != BeaconHeaderLen+n {
				t.Errorf("type %d with a %d-byte name: %d bytes, want %d", typ, n, len(b), BeaconHeaderLen+n)
			}
		}
	}
}

func TestBeaconLongestName(t *testing.T) {
	m := Beacon{Type: BeaconAnswer, Key: beaconKey, Instance: 7, ChatPort: 7475, Name: strings.Repeat("n", MaxNameLen)}
	b, err := AppendBeacon(nil, m)
	if err != nil || len(b) != MaxBeaconLen {
		t.Fatalf("AppendBeacon with a %d-byte name: %d bytes, %v; want %d", MaxNameLen, len(b), err, MaxBeaconLen)
	}
	m.Name += "n"
	if out, err := AppendBeacon([]byte("x"), m); !errors.Is(err, ErrMalformed) || string(out) != "x" {
		t.Errorf("AppendBeacon with a %d-byte name: %x, %v; want x, ErrMalformed", len(m.Name), out, err)
	}
}

func TestParseBeaconBad(t *testing.T) {
	rest := beaconKeyHex + "0000000000000001 1d33 01 61"
	pad := strings.Repeat("00", MaxNameLen-1)
	for _, tc := range []struct {
		name string
		hex  string
		b    []byte
		want error
	}{
		{name: "chat datagram", hex: "01 01 00000000", want: ErrMalformed},
		{name: "other magic", hex: "2ea7d90b 01 01" + rest, want: ErrMalformed},
		{name: "version 2", hex: "55445063 02 01" + rest, want: ErrVersion},
		{name: "version 0", hex: "55445063 00 01", want: ErrVersion},
		{name: "type 0", hex: "55445063 01 00" + rest, want: ErrType},
		{name: "type 4", hex: "55445063 01 04" + rest, want: ErrType},
		{name: "zero key", hex: "55445063 01 02" + strings.Repeat("00", 32) + "0000000000000001 1d33 01 61", want: ErrMalformed},
		{name: "instance 0", hex: "55445063 01 02" + beaconKeyHex + "0000000000000000 1d33 01 61", want: ErrMalformed},
		{name: "chat port 0", hex: "55445063 01 02" + beaconKeyHex + "0000000000000001 0000 01 61", want: ErrMalformed},
		{name: "empty name", hex: "55445063 01 02" + beaconKeyHex + "0000000000000001 1d33 00", want: ErrMalformed},
		{name: "name not UTF-8", hex: "55445063 01 02" + beaconKeyHex + "0000000000000001 1d33 01 ff", want: ErrMalformed},
		{name: "name over MaxNameLen", hex: "55445063 01 03" + beaconKeyHex + "0000000000000001 1d33 41" + strings.Repeat("61", 65), want: ErrMalformed},
		{name: "answer with a byte after the name", hex: "55445063 01 02" + rest + "00", want: ErrMalformed},
		{name: "announce unpadded", hex: "55445063 01 01" + rest, want: ErrTruncated},
		{name: "announce padded one short", hex: "55445063 01 01" + rest + pad[2:], want: ErrTruncated},
		{name: "announce padded one over", hex: "55445063 01 01" + rest + pad + "00", want: ErrMalformed},
		{name: "announce padding not zero", hex: "55445063 01 01" + rest + pad[2:] + "01", want: ErrMalformed},
		{name: "over MaxDatagram", b: append(mustHex("55445063 01 01"), make([]byte, MaxDatagram)...), want: ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			if b == nil {
				b = mustHex(tc.hex)
			}
			m, err := ParseBeacon(b)
			if !errors.Is(err, tc.want) || m != (Beacon{}) {
				t.Errorf("ParseBeacon(%x) = %+v, %v; want %v", b, m, err, tc.want)
			}
		})
	}
}

func TestParseBeaconAllocs(t *testing.T) {
	b := mustHex(beaconGolden[0].hex)
	buf := make([]byte, 0, MaxBeaconLen)
	m := beaconGolden[0].m
	// The name is the one allocation ParseBeacon makes: it outlives the
	// datagram's buffer.
	if n := testing.AllocsPerRun(100, func() { ParseBeacon(b) }); n > 1 {
		t.Errorf("ParseBeacon: %v allocations, want at most 1 (the name)", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendBeacon(buf[:0], m) }); n != 0 {
		t.Errorf("AppendBeacon: %v allocations", n)
	}
}

func FuzzBeacon(f *testing.F) {
	for _, tc := range beaconGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(mustHex("55445063 01 04" + beaconKeyHex + "0000000000000001 1d33 01 61"))
	f.Add(mustHex("55445063 01 01" + beaconKeyHex + "0000000000000001 1d33 02 61"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBeacon(b)
		if err != nil {
			checkFuzzErr(t, b, err, MaxDatagram)
			return
		}
		enc, err := AppendBeacon(nil, m)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("AppendBeacon(%+v) = %x, %v; parsed from %x", m, enc, err, b)
		}
	})
}
