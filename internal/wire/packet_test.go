package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// headerGolden: version 01, type 01, then three big-endian uint64s.
var headerGolden = []struct {
	h   Header
	hex string
}{
	{
		Header{SrcEpoch: 1},
		"01 01 0000000000000001 0000000000000000 0000000000000000",
	},
	{
		Header{SrcEpoch: 1700000000, DstEpoch: 42, PacketNumber: 1},
		"01 01 000000006553f100 000000000000002a 0000000000000001",
	},
	{
		Header{SrcEpoch: 0x0102030405060708, DstEpoch: 0x1112131415161718, PacketNumber: 0x2122232425262728},
		"01 01 0102030405060708 1112131415161718 2122232425262728",
	},
	{
		// Header fields are fixed-width, not varints: all 64 bits are usable.
		Header{SrcEpoch: math.MaxUint64, DstEpoch: math.MaxUint64, PacketNumber: math.MaxUint64},
		"01 01 ffffffffffffffff ffffffffffffffff ffffffffffffffff",
	},
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range headerGolden {
		want := mustHex(tc.hex)
		if len(want) != HeaderLen {
			t.Fatalf("golden %q is %d bytes, want HeaderLen", tc.hex, len(want))
		}
		if got := AppendHeader(nil, tc.h); !bytes.Equal(got, want) {
			t.Errorf("AppendHeader(%+v) =\n%x, want\n%x", tc.h, got, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range headerGolden {
		b := mustHex(tc.hex)
		h, rest, err := ParseHeader(b)
		if err != nil || h != tc.h || len(rest) != 0 {
			t.Errorf("ParseHeader(%x) = %+v, %x, %v; want %+v", b, h, rest, err, tc.h)
		}

		// The frames that follow come back as a slice of the datagram.
		b = append(b, FramePing, FramePadding)
		h, rest, err = ParseHeader(b)
		if err != nil || h != tc.h || !bytes.Equal(rest, []byte{FramePing, FramePadding}) {
			t.Errorf("ParseHeader(%x) = %+v, %x, %v", b, h, rest, err)
		}
		if &rest[0] != &b[HeaderLen] {
			t.Errorf("ParseHeader: frames do not alias the datagram")
		}
	}
}

// TestParseHeaderMaxPathDatagram: MaxPathDatagram bytes is accepted (path
// MTU discovery may grow packets to it), one more is not.
func TestParseHeaderMaxPathDatagram(t *testing.T) {
	b := AppendHeader(make([]byte, 0, MaxPathDatagram+1), Header{SrcEpoch: 1})
	b = append(b, make([]byte, MaxPathDatagram-HeaderLen)...)
	if _, rest, err := ParseHeader(b); err != nil || len(rest) != MaxPathDatagram-HeaderLen {
		t.Errorf("ParseHeader(%d bytes): %d bytes of frames, %v", len(b), len(rest), err)
	}
	b = append(b, 0)
	if _, _, err := ParseHeader(b); !errors.Is(err, ErrTooBig) {
		t.Errorf("ParseHeader(%d bytes): %v, want ErrTooBig", len(b), err)
	}
}

func TestParseHeaderTruncated(t *testing.T) {
	for _, tc := range headerGolden {
		b := mustHex(tc.hex)
		for i := range len(b) {
			if _, _, err := ParseHeader(b[:i]); !errors.Is(err, ErrTruncated) {
				t.Errorf("ParseHeader(%x): %v, want ErrTruncated", b[:i], err)
			}
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	tooBig := AppendHeader(nil, Header{SrcEpoch: 1})
	tooBig = append(tooBig, make([]byte, MaxPathDatagram+1-HeaderLen)...)

	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"version 0", mustHex("00 01 0000000000000001 0000000000000000 0000000000000000"), ErrVersion},
		{"version 2", mustHex("02 01 0000000000000001 0000000000000000 0000000000000000"), ErrVersion},
		{"version ff", mustHex("ff 01 0000000000000001 0000000000000000 0000000000000000"), ErrVersion},
		// The version and type are checked as soon as they are there.
		{"version 2, short", mustHex("02 01"), ErrVersion},
		{"type 00", mustHex("01 00 0000000000000001 0000000000000000 0000000000000000"), ErrType},
		{"type 02", mustHex("01 02 0000000000000001 0000000000000000 0000000000000000"), ErrType},
		{"type ff", mustHex("01 ff 0000000000000001 0000000000000000 0000000000000000"), ErrType},
		{"type 02, short", mustHex("01 02"), ErrType},
		{"source epoch 0", mustHex("01 01 0000000000000000 0000000000000005 0000000000000007"), ErrMalformed},
		{"over MaxPathDatagram", tooBig, ErrTooBig},
		// Size is checked first: nothing of an oversized datagram is read.
		{"over MaxPathDatagram, bad version", bytes.Repeat([]byte{0xff}, MaxPathDatagram+1), ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rest, err := ParseHeader(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHeader(%x): %v, want %v", tc.b, err, tc.want)
			}
			if h != (Header{}) || rest != nil {
				t.Errorf("ParseHeader failed but returned %+v, %x", h, rest)
			}
		})
	}
}

func TestHeaderAllocs(t *testing.T) {
	b := mustHex(headerGolden[2].hex + "01")
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseHeader(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseHeader: %v allocations, want 0", n)
	}

	buf := make([]byte, 0, MaxDatagram)
	h := headerGolden[2].h
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendHeader(buf[:0], h)
	}); n != 0 {
		t.Errorf("AppendHeader: %v allocations, want 0", n)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, tc := range headerGolden {
		f.Add(mustHex(tc.hex))
		f.Add(mustHex(tc.hex + "01 00 00"))
	}
	f.Add(mustHex("02 01"))
	f.Add(mustHex("01 01 0000000000000000 0000000000000005 0000000000000007"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := ParseHeader(b)
		if err != nil {
			checkSentinel(t, err)
			if len(b) > MaxPathDatagram && !errors.Is(err, ErrTooBig) {
				t.Fatalf("ParseHeader(%d bytes): %v, want ErrTooBig", len(b), err)
			}
			return
		}
		if len(b) > MaxPathDatagram || len(b) < HeaderLen || h.SrcEpoch == 0 {
			t.Fatalf("ParseHeader(%x) accepted %+v", b, h)
		}
		if len(rest) != len(b)-HeaderLen || (len(rest) > 0 && &rest[0] != &b[HeaderLen]) {
			t.Fatalf("ParseHeader(%x): frames %x are not the rest of the datagram", b, rest)
		}
		// The header is fixed-width, so here bytes, not only values, must
		// come back.
		enc := AppendHeader(nil, h)
		if !bytes.Equal(enc, b[:HeaderLen]) {
			t.Fatalf("AppendHeader(%+v) = %x, parsed from %x", h, enc, b[:HeaderLen])
		}
		h2, rest2, err := ParseHeader(enc)
		if err != nil || h2 != h || len(rest2) != 0 {
			t.Fatalf("ParseHeader(%x) = %+v, %x, %v; want %+v", enc, h2, rest2, err, h)
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	d := AppendHeader(nil, headerGolden[2].h)
	d = append(d, make([]byte, MaxDatagram-HeaderLen)...)
	b.ReportAllocs()
	b.SetBytes(HeaderLen)
	for b.Loop() {
		if _, _, err := ParseHeader(d); err != nil {
			b.Fatal(err)
		}
	}
}
