package wire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// varintGolden holds every length boundary, worked out by hand from the
// layout (two length bits, then the value big-endian), plus the examples of
// RFC 9000, appendix A.1, as a check from outside this package.
var varintGolden = []struct {
	v   uint64
	hex string
}{
	{0, "00"},
	{37, "25"}, // RFC 9000 A.1
	{63, "3f"},
	{64, "40 40"},
	{15293, "7b bd"}, // RFC 9000 A.1
	{16383, "7f ff"},
	{16384, "80 00 40 00"},
	{494878333, "9d 7f 3e 7d"}, // RFC 9000 A.1
	{1<<30 - 1, "bf ff ff ff"},
	{1 << 30, "c0 00 00 00 40 00 00 00"},
	{151288809941952652, "c2 19 7c 5e ff 14 e8 8c"}, // RFC 9000 A.1
	{MaxVarint, "ff ff ff ff ff ff ff ff"},
}

func TestAppendVarint(t *testing.T) {
	for _, tc := range varintGolden {
		want := mustHex(tc.hex)
		if got := AppendVarint(nil, tc.v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarint(%d) = %x, want %x", tc.v, got, want)
		}
		if got := VarintLen(tc.v); got != len(want) {
			t.Errorf("VarintLen(%d) = %d, want %d", tc.v, got, len(want))
		}
		// Appending keeps what is already there.
		got := AppendVarint([]byte{0xaa}, tc.v)
		if got[0] != 0xaa || !bytes.Equal(got[1:], want) {
			t.Errorf("AppendVarint(aa, %d) = %x, want aa%x", tc.v, got, want)
		}
	}
}

func TestParseVarint(t *testing.T) {
	for _, tc := range varintGolden {
		b := mustHex(tc.hex)
		// A trailing byte must be left alone.
		v, n, err := ParseVarint(append(b, 0xff))
		if err != nil || v != tc.v || n != len(b) {
			t.Errorf("ParseVarint(%x ff) = %d, %d, %v; want %d, %d, nil", b, v, n, err, tc.v, len(b))
		}
	}
}

// Varints need not be minimal (RFC 9000 allows 0x4025 for 37), so a parsed
// value may re-encode shorter: round trips compare values, not bytes.
func TestParseVarintNonMinimal(t *testing.T) {
	for _, tc := range []struct {
		hex string
		v   uint64
	}{
		{"40 25", 37}, // RFC 9000 A.1
		{"80 00 00 25", 37},
		{"c0 00 00 00 00 00 00 25", 37},
		{"40 00", 0},
		{"c0 00 00 00 00 00 00 00", 0},
		{"80 00 3f ff", 16383},
	} {
		b := mustHex(tc.hex)
		v, n, err := ParseVarint(b)
		if err != nil || v != tc.v || n != len(b) {
			t.Errorf("ParseVarint(%x) = %d, %d, %v; want %d, %d, nil", b, v, n, err, tc.v, len(b))
		}
	}
}

func TestParseVarintTruncated(t *testing.T) {
	for _, tc := range varintGolden {
		b := mustHex(tc.hex)
		for i := range len(b) {
			v, n, err := ParseVarint(b[:i])
			if !errors.Is(err, ErrTruncated) || v != 0 || n != 0 {
				t.Errorf("ParseVarint(%x) = %d, %d, %v; want 0, 0, ErrTruncated", b[:i], v, n, err)
			}
		}
	}
}

// TestVarintLenBoundaries checks every length boundary from both sides.
func TestVarintLenBoundaries(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		want int
	}{
		{0, 1}, {63, 1}, {64, 2}, {16383, 2}, {16384, 4},
		{1<<30 - 1, 4}, {1 << 30, 8}, {MaxVarint, 8},
	} {
		if got := VarintLen(tc.v); got != tc.want {
			t.Errorf("VarintLen(%d) = %d, want %d", tc.v, got, tc.want)
		}
		b := AppendVarint(nil, tc.v)
		if v, n, err := ParseVarint(b); err != nil || v != tc.v || n != tc.want {
			t.Errorf("ParseVarint(AppendVarint(%d)) = %d, %d, %v", tc.v, v, n, err)
		}
	}
}

func FuzzParseVarint(f *testing.F) {
	for _, tc := range varintGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(mustHex("40 25"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := ParseVarint(b)
		if err != nil {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("ParseVarint(%x): %v, want ErrTruncated", b, err)
			}
			if len(b) != 0 && len(b) >= 1<<(b[0]>>6) {
				t.Fatalf("ParseVarint(%x): %v, but the varint is complete", b, err)
			}
			return
		}
		if n != 1<<(b[0]>>6) || n > len(b) {
			t.Fatalf("ParseVarint(%x) took %d bytes", b, n)
		}
		if v > MaxVarint {
			t.Fatalf("ParseVarint(%x) = %d > MaxVarint", b, v)
		}
		enc := AppendVarint(nil, v)
		if len(enc) != VarintLen(v) || len(enc) > n {
			t.Fatalf("AppendVarint(%d) = %x: %d bytes, VarintLen %d, parsed from %d", v, enc, len(enc), VarintLen(v), n)
		}
		v2, n2, err := ParseVarint(enc)
		if err != nil || v2 != v || n2 != len(enc) {
			t.Fatalf("ParseVarint(%x) = %d, %d, %v; want %d", enc, v2, n2, err, v)
		}
	})
}

func ExampleAppendVarint() {
	b := AppendVarint(nil, 15293)
	v, n, _ := ParseVarint(b)
	fmt.Printf("%x %d %d\n", b, v, n)
	// Output: 7bbd 15293 2
}
