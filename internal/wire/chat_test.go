package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	idSeq  = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	idOnes = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// chatGolden: kind, 16-byte ID, name length, name, then the text to the end.
var chatGolden = []struct {
	name string
	m    ChatMessage
	hex  string
}{
	{
		name: "hello",
		m:    ChatMessage{Kind: ChatHello, ID: idSeq, Name: "ann"},
		hex:  "01 000102030405060708090a0b0c0d0e0f 03 616e6e",
	},
	{
		name: "text",
		// ☃ is U+2603, e2 98 83 in UTF-8.
		m:   ChatMessage{Kind: ChatText, ID: idOnes, Name: "bob", Text: "hi ☃"},
		hex: "02 ffffffffffffffffffffffffffffffff 03 626f62 686920e29883",
	},
	{
		name: "action",
		m:    ChatMessage{Kind: ChatAction, Name: "é", Text: "waves"},
		hex:  "03 00000000000000000000000000000000 02 c3a9 7761766573",
	},
	{
		name: "direct",
		m:    ChatMessage{Kind: ChatDirect, ID: idSeq, Name: "bob", Text: "psst"},
		hex:  "04 000102030405060708090a0b0c0d0e0f 03 626f62 70737374",
	},
	{
		name: "features",
		m:    ChatMessage{Kind: ChatFeatures, ID: idSeq, Name: "ann", Text: "direct"},
		hex:  "05 000102030405060708090a0b0c0d0e0f 03 616e6e 646972656374",
	},
	{
		name: "longest name",
		m:    ChatMessage{Kind: ChatText, Name: strings.Repeat("n", MaxNameLen), Text: "!"},
		hex:  "02 00000000000000000000000000000000 40" + strings.Repeat("6e", MaxNameLen) + "21",
	},
}

func TestAppendChat(t *testing.T) {
	for _, tc := range chatGolden {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.hex)
			got, err := AppendChat(nil, tc.m)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("AppendChat(%+v) = %x, %v; want %x", tc.m, got, err, want)
			}
		})
	}
}

func TestParseChat(t *testing.T) {
	for _, tc := range chatGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(tc.hex)
			m, err := ParseChat(b)
			if err != nil || m != tc.m {
				t.Errorf("ParseChat(%x) = %+v, %v; want %+v", b, m, err, tc.m)
			}
		})
	}
}

func TestChatLongestText(t *testing.T) {
	m := ChatMessage{Kind: ChatText, Name: strings.Repeat("n", MaxNameLen), Text: strings.Repeat("t", MaxTextLen)}
	b, err := AppendChat(nil, m)
	if err != nil || len(b) != MaxChatMessageLen {
		t.Fatalf("AppendChat(longest): %d bytes, %v; want MaxChatMessageLen = %d", len(b), err, MaxChatMessageLen)
	}
	if MaxChatMessageLen > MaxMessageLen {
		t.Errorf("MaxChatMessageLen %d does not fit a transport message (MaxMessageLen %d)", MaxChatMessageLen, MaxMessageLen)
	}
	if m2, err := ParseChat(b); err != nil || m2 != m {
		t.Errorf("ParseChat(longest): %v", err)
	}
}

// The text runs to the end of the payload, with no length of its own: the
// transport delivers the payload whole (its length is the chunk's MsgLen),
// so a prefix that keeps the whole name is a message with a shorter text.
// Such a prefix fails only when the cut splits a UTF-8 sequence. Prefixes
// that end in the header or the name are truncated.
func TestParseChatTruncated(t *testing.T) {
	for _, tc := range chatGolden {
		b := mustHex(tc.hex)
		textStart := ChatHeaderLen + len(tc.m.Name)
		for i := range len(b) {
			m, err := ParseChat(b[:i])
			switch {
			case i < textStart:
				if !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseChat(%x) = %+v, %v; want ErrTruncated", b[:i], m, err)
				}
			case utf8.Valid(b[textStart:i]):
				want := tc.m
				want.Text = string(b[textStart:i])
				if err != nil || m != want {
					t.Errorf("ParseChat(%x) = %+v, %v; want %+v", b[:i], m, err, want)
				}
			default:
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("ParseChat(%x) = %+v, %v; want ErrMalformed (text cut inside a UTF-8 sequence)", b[:i], m, err)
				}
			}
		}
	}
}

func TestChatRejects(t *testing.T) {
	const id = " 00000000000000000000000000000000 "
	longText := append(mustHex("02"+id+"01 61"), bytes.Repeat([]byte("t"), MaxTextLen+1)...)
	for _, tc := range []struct {
		name string
		hex  string
		b    []byte // instead of hex
		want error
	}{
		{name: "kind 0", hex: "00" + id + "01 61", want: ErrType},
		{name: "kind 6", hex: "06" + id + "01 61", want: ErrType},
		{name: "kind ff", hex: "ff" + id + "01 61 6869", want: ErrType},
		{name: "empty name", hex: "02" + id + "00 6869", want: ErrMalformed},
		{name: "name MaxNameLen+1", hex: "02" + id + "41" + strings.Repeat("6e", MaxNameLen+1) + "6869", want: ErrMalformed},
		{name: "name of 255", hex: "02" + id + "ff" + strings.Repeat("6e", 255), want: ErrMalformed},
		{name: "name not UTF-8", hex: "02" + id + "01 ff", want: ErrMalformed},
		{name: "name with bad continuation", hex: "02" + id + "02 c328", want: ErrMalformed},
		{name: "name with surrogate", hex: "02" + id + "03 eda080", want: ErrMalformed},
		{name: "text not UTF-8", hex: "02" + id + "01 61 6869ff", want: ErrMalformed},
		{name: "text overlong", hex: "02" + id + "01 61 c080", want: ErrMalformed},
		{name: "text cut", hex: "02" + id + "01 61 e298", want: ErrMalformed},
		{name: "text MaxTextLen+1", b: longText, want: ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			if b == nil {
				b = mustHex(tc.hex)
			}
			m, err := ParseChat(b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseChat: %v, want %v", err, tc.want)
			}
			if m != (ChatMessage{}) {
				t.Errorf("ParseChat failed but returned %+v", m)
			}

			// AppendChat refuses to write the same message, and leaves b
			// as it was.
			bad := ChatMessage{Kind: ChatKind(b[0]), Name: string(b[ChatHeaderLen : ChatHeaderLen+int(b[17])]),
				Text: string(b[ChatHeaderLen+int(b[17]):])}
			out, err := AppendChat([]byte("x"), bad)
			if !errors.Is(err, tc.want) || string(out) != "x" {
				t.Errorf("AppendChat: %x, %v; want x, %v", out, err, tc.want)
			}
		})
	}
}

func FuzzParseChat(f *testing.F) {
	for _, tc := range chatGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(mustHex("02 00000000000000000000000000000000 00 6869"))
	f.Add(mustHex("02 00000000000000000000000000000000 01 61 e298"))
	f.Add(mustHex("05 00000000000000000000000000000000 01 61"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseChat(b)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		// The layout is fixed (no varints), so the bytes themselves must
		// come back.
		enc, err := AppendChat(nil, m)
		if err != nil {
			t.Fatalf("AppendChat(%+v) of a parsed message: %v", m, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("AppendChat(%+v) = %x, parsed from %x", m, enc, b)
		}
		m2, err := ParseChat(enc)
		if err != nil || m2 != m {
			t.Fatalf("ParseChat(%x) = %+v, %v; want %+v", enc, m2, err, m)
		}
	})
}
