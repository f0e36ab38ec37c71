package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// plainGolden: the name, a colon, the text; nothing else.
var plainGolden = []struct {
	name, text string
	hex        string
}{
	{"ann", "hi", "616e6e 3a 6869"},
	{"", "hi", "3a 6869"},
	{"ann", "", "616e6e 3a"},
	{"ann", "a:b", "616e6e 3a 613a62"}, // only the first colon splits
	{"é", "☃", "c3a9 3a e29883"},
}

func TestAppendPlain(t *testing.T) {
	for _, tc := range plainGolden {
		want := mustHex(tc.hex)
		got, err := AppendPlain(nil, tc.name, tc.text, DefaultPlainMax)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendPlain(%q, %q) = %x, %v; want %x", tc.name, tc.text, got, err, want)
		}
	}
}

func TestParsePlain(t *testing.T) {
	for _, tc := range plainGolden {
		b := mustHex(tc.hex)
		name, text := ParsePlain(b)
		if name == nil || string(name) != tc.name || string(text) != tc.text {
			t.Errorf("ParsePlain(%x) = %q, %q; want %q, %q", b, name, text, tc.name, tc.text)
		}
	}
	for _, tc := range []struct {
		in         string
		name, text string
		noName     bool
	}{
		{in: "hello", text: "hello", noName: true},
		{in: "", text: "", noName: true},
		{in: ":", name: "", text: ""},
		{in: "a::b", name: "a", text: ":b"},
		{in: "\xff:\xfe", name: "\xff", text: "\xfe"}, // plain mode does not check UTF-8
	} {
		name, text := ParsePlain([]byte(tc.in))
		if (name == nil) != tc.noName || string(name) != tc.name || string(text) != tc.text {
			t.Errorf("ParsePlain(%q) = %q (nil %v), %q; want %q (nil %v), %q",
				tc.in, name, name == nil, text, tc.name, tc.noName, tc.text)
		}
	}
}

// A plain datagram has no length or terminator, so no prefix of it is
// truncated: a prefix that stops before the colon has no name and is all
// text; one that keeps the colon has a shorter text.
func TestParsePlainPrefixes(t *testing.T) {
	b := mustHex(plainGolden[0].hex) // ann:hi
	for i := range len(b) {
		name, text := ParsePlain(b[:i])
		if i <= 3 {
			if name != nil || !bytes.Equal(text, b[:i]) {
				t.Errorf("ParsePlain(%q) = %q, %q; want no name", b[:i], name, text)
			}
		} else if string(name) != "ann" || string(text) != "hi"[:i-4] {
			t.Errorf("ParsePlain(%q) = %q, %q", b[:i], name, text)
		}
	}
}

func TestAppendPlainTooBig(t *testing.T) {
	for _, max := range []int{DefaultPlainMax, 20, MaxPlainDatagram} {
		name := "ann"
		text := strings.Repeat("t", max-len(name)-1)
		b, err := AppendPlain(nil, name, text, max)
		if err != nil || len(b) != max {
			t.Errorf("AppendPlain of %d bytes, max %d: %d, %v", max, max, len(b), err)
		}
		b, err = AppendPlain([]byte("x"), name, text+"t", max)
		if !errors.Is(err, ErrTooBig) || string(b) != "x" {
			t.Errorf("AppendPlain of %d bytes, max %d: %q, %v; want x, ErrTooBig", max+1, max, b, err)
		}
		// The error is shown to the user as it is: it says what to do, in
		// words for people, without the package's prefix.
		if msg := err.Error(); strings.Contains(msg, "wire:") || !strings.Contains(msg, fmt.Sprintf("%d bytes", max+1)) || !strings.Contains(msg, fmt.Sprintf("at most %d bytes", max)) {
			t.Errorf("the user would read %q", msg)
		}
	}
}

// A name with ':' would be read back as another sender and another text
// ("a:b" + "c" is "a:b:c", which ParsePlain splits at the first colon), so
// AppendPlain must refuse it or write something that reads back the same.
func TestAppendPlainNameWithColon(t *testing.T) {
	for _, name := range []string{"a:b", ":", "ann:"} {
		b, err := AppendPlain(nil, name, "c", DefaultPlainMax)
		if err != nil {
			continue // refused: fine
		}
		if gotName, gotText := ParsePlain(b); string(gotName) != name || string(gotText) != "c" {
			t.Errorf("AppendPlain(%q, %q) = %q, which ParsePlain reads as %q, %q", name, "c", b, gotName, gotText)
		}
	}
}

func FuzzParsePlain(f *testing.F) {
	for _, tc := range plainGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add([]byte("no colon"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte(":"), MaxPlainDatagram+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, text := ParsePlain(b)
		if name == nil {
			if bytes.IndexByte(b, ':') >= 0 || !bytes.Equal(text, b) {
				t.Fatalf("ParsePlain(%q) = no name, %q", b, text)
			}
			// A datagram with no colon is text alone, which AppendPlain
			// cannot write (it always writes the colon): nothing to
			// round-trip.
			return
		}
		if bytes.IndexByte(name, ':') >= 0 || len(name)+1+len(text) != len(b) {
			t.Fatalf("ParsePlain(%q) = %q, %q", b, name, text)
		}
		enc, err := AppendPlain(nil, string(name), string(text), MaxPlainDatagram)
		if len(b) > MaxPlainDatagram {
			// ParsePlain reads whatever the socket gave it; AppendPlain
			// only writes what fits one datagram.
			if !errors.Is(err, ErrTooBig) {
				t.Fatalf("AppendPlain of %d bytes: %v, want ErrTooBig", len(b), err)
			}
			return
		}
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("AppendPlain(%q, %q) = %q, %v; parsed from %q", name, text, enc, err, b)
		}
	})
}
