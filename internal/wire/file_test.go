package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var (
	root32   = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	root32ab = "0102030405060708090a0b0c0d0e0f10 1112131415161718191a1b1c1d1e1f20"
)

func TestFileOfferGolden(t *testing.T) {
	o := FileOfferMessage{ID: idSeq, Root: root32, Size: 100000, BlockShift: 16, Name: "a.txt"}
	want := mustHex("10 000102030405060708090a0b0c0d0e0f" + root32ab + " 800186a0 10 05 612e747874")
	got, err := AppendFileOffer(nil, o)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AppendFileOffer = %x, %v; want %x", got, err, want)
	}
	back, err := ParseFileOffer(want)
	if err != nil || back != o {
		t.Fatalf("ParseFileOffer = %+v, %v; want %+v", back, err, o)
	}
	if o.Blocks() != 2 || o.BlockSize() != 65536 {
		t.Errorf("100000 bytes in 64 KiB blocks: Blocks() = %d, BlockSize() = %d; want 2, 65536", o.Blocks(), o.BlockSize())
	}
}

func TestFileOfferRejects(t *testing.T) {
	good := FileOfferMessage{ID: idSeq, Size: 1, BlockShift: 16, Name: "x"}
	for name, tc := range map[string]struct {
		o    FileOfferMessage
		want error
	}{
		"small blocks":  {FileOfferMessage{Size: 1, BlockShift: 11, Name: "x"}, ErrMalformed},
		"big blocks":    {FileOfferMessage{Size: 1, BlockShift: 18, Name: "x"}, ErrMalformed},
		"no name":       {FileOfferMessage{Size: 1, BlockShift: 16}, ErrMalformed},
		"long name":     {FileOfferMessage{Size: 1, BlockShift: 16, Name: strings.Repeat("n", 256)}, ErrMalformed},
		"not UTF-8":     {FileOfferMessage{Size: 1, BlockShift: 16, Name: "\xff"}, ErrMalformed},
		"over a varint": {FileOfferMessage{Size: MaxVarint + 1, BlockShift: 16, Name: "x"}, ErrTooBig},
	} {
		if _, err := AppendFileOffer(nil, tc.o); !errors.Is(err, tc.want) {
			t.Errorf("%s: AppendFileOffer err = %v; want %v", name, err, tc.want)
		}
	}
	b, _ := AppendFileOffer(nil, good)
	for name, bad := range map[string][]byte{
		"truncated":   b[:len(b)-1],
		"extra byte":  append(bytes.Clone(b), 0),
		"other kind":  append([]byte{FileAccept}, b[1:]...),
		"header only": b[:17],
	} {
		_, err := ParseFileOffer(bad)
		if err == nil {
			t.Errorf("%s: ParseFileOffer(%x) succeeded", name, bad)
			continue
		}
		checkSentinel(t, err)
	}
}

func TestFileRequestGolden(t *testing.T) {
	r := FileRequestMessage{ID: idSeq, Ranges: []FileRange{{0, 3}, {10, 1}, {100, 64}}}
	want := mustHex("13 000102030405060708090a0b0c0d0e0f 03 00 03 0a 01 4064 4040")
	got, err := AppendFileRequest(nil, r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AppendFileRequest = %x, %v; want %x", got, err, want)
	}
	back, err := ParseFileRequest(want)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("ParseFileRequest = %+v, %v; want %+v", back, err, r)
	}
}

func TestFileRequestRejects(t *testing.T) {
	many := make([]FileRange, MaxFileRanges+1)
	for i := range many {
		many[i] = FileRange{uint64(2 * i), 1}
	}
	for name, rs := range map[string][]FileRange{
		"none":        nil,
		"empty range": {{5, 0}},
		"overlap":     {{0, 5}, {4, 1}},
		"descending":  {{9, 1}, {2, 1}},
		"past 2^62":   {{MaxVarint, 1}},
		"too many":    many,
	} {
		_, err := AppendFileRequest(nil, FileRequestMessage{Ranges: rs})
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: AppendFileRequest err = %v; want ErrMalformed", name, err)
		}
	}
	// A count that promises more ranges than follow, and bytes after them.
	for _, h := range []string{
		"13 000102030405060708090a0b0c0d0e0f 02 00 03",
		"13 000102030405060708090a0b0c0d0e0f 01 00 03 00",
		"13 000102030405060708090a0b0c0d0e0f 00",
	} {
		_, err := ParseFileRequest(mustHex(h))
		if err == nil {
			t.Errorf("ParseFileRequest(%s) succeeded", h)
			continue
		}
		checkSentinel(t, err)
	}
}

func TestFileBlockGolden(t *testing.T) {
	k := FileBlockMessage{ID: idSeq, Index: 300, Proof: [][32]byte{root32}, Data: []byte("hi")}
	want := mustHex("14 000102030405060708090a0b0c0d0e0f 412c 01" + root32ab + " 6869")
	got, err := AppendFileBlock(nil, k)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AppendFileBlock = %x, %v; want %x", got, err, want)
	}
	back, err := ParseFileBlock(want)
	if err != nil || !reflect.DeepEqual(back, k) {
		t.Fatalf("ParseFileBlock = %+v, %v; want %+v", back, err, k)
	}
	for name, bad := range map[string]string{
		"no data":       "14 000102030405060708090a0b0c0d0e0f 00 00",
		"short proof":   "14 000102030405060708090a0b0c0d0e0f 00 02" + root32ab,
		"proof too big": "14 000102030405060708090a0b0c0d0e0f 00 41",
	} {
		_, err := ParseFileBlock(mustHex(bad))
		if err == nil {
			t.Errorf("%s: ParseFileBlock succeeded", name)
			continue
		}
		checkSentinel(t, err)
	}
}

// TestFileBlockLargestFits: the largest block with the longest proof is a
// message the transport carries.
func TestFileBlockLargestFits(t *testing.T) {
	k := FileBlockMessage{Index: MaxVarint, Proof: make([][32]byte, MaxFileProof), Data: make([]byte, 1<<MaxFileBlockShift)}
	b, err := AppendFileBlock(nil, k)
	if err != nil || len(b) != MaxFileBlockMessageLen || len(b) > MaxMessageLen {
		t.Fatalf("largest block message: %d bytes, %v; want %d, at most %d", len(b), err, MaxFileBlockMessageLen, MaxMessageLen)
	}
}

func TestFileControlGolden(t *testing.T) {
	for _, tc := range []struct {
		c   FileControlMessage
		hex string
	}{
		{FileControlMessage{Kind: FileAccept, ID: idSeq}, "11 000102030405060708090a0b0c0d0e0f"},
		{FileControlMessage{Kind: FileDecline, ID: idSeq, Reason: FileReasonTooBig}, "12 000102030405060708090a0b0c0d0e0f 02"},
		{FileControlMessage{Kind: FileCancel, ID: idSeq, Reason: FileReasonBadBlock}, "15 000102030405060708090a0b0c0d0e0f 04"},
		{FileControlMessage{Kind: FileDone, ID: idSeq, Root: root32}, "16 000102030405060708090a0b0c0d0e0f" + root32ab},
	} {
		want := mustHex(tc.hex)
		got, err := AppendFileControl(nil, tc.c)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendFileControl(%+v) = %x, %v; want %x", tc.c, got, err, want)
		}
		back, err := ParseFileControl(want)
		if err != nil || back != tc.c {
			t.Errorf("ParseFileControl(%x) = %+v, %v; want %+v", want, back, err, tc.c)
		}
		for _, bad := range [][]byte{want[:len(want)-1], append(bytes.Clone(want), 0)} {
			if _, err := ParseFileControl(bad); err == nil {
				t.Errorf("ParseFileControl(%x) succeeded", bad)
			}
		}
	}
	if _, err := ParseFileControl(mustHex("10 000102030405060708090a0b0c0d0e0f")); !errors.Is(err, ErrType) {
		t.Errorf("ParseFileControl of an offer's kind: err = %v; want ErrType", err)
	}
}

// fuzzRoundTrip checks what parse makes of b: an error that wraps a wire
// sentinel, or a message that encodes and parses back to itself. (Varints
// may have longer encodings than the shortest, so the bytes may differ.)
func fuzzRoundTrip[M any](t *testing.T, b []byte, parse func([]byte) (M, error), appendM func([]byte, M) ([]byte, error)) {
	m, err := parse(b)
	if err != nil {
		checkSentinel(t, err)
		return
	}
	enc, err := appendM(nil, m)
	if err != nil {
		t.Fatalf("encoding %+v, parsed from %x: %v", m, b, err)
	}
	if m2, err := parse(enc); err != nil || !reflect.DeepEqual(m2, m) {
		t.Fatalf("parsing %x = %+v, %v; want %+v", enc, m2, err, m)
	}
}

func FuzzParseFileOffer(f *testing.F) {
	f.Add(mustHex("10 000102030405060708090a0b0c0d0e0f" + root32ab + " 800186a0 10 05 612e747874"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, b, ParseFileOffer, AppendFileOffer) })
}

func FuzzParseFileRequest(f *testing.F) {
	f.Add(mustHex("13 000102030405060708090a0b0c0d0e0f 03 00 03 0a 01 4064 4040"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, b, ParseFileRequest, AppendFileRequest) })
}

func FuzzParseFileBlock(f *testing.F) {
	f.Add(mustHex("14 000102030405060708090a0b0c0d0e0f 412c 01" + root32ab + " 6869"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, b, ParseFileBlock, AppendFileBlock) })
}

func FuzzParseFileControl(f *testing.F) {
	f.Add(mustHex("11 000102030405060708090a0b0c0d0e0f"))
	f.Add(mustHex("15 000102030405060708090a0b0c0d0e0f 04"))
	f.Add(mustHex("16 000102030405060708090a0b0c0d0e0f" + root32ab))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseFileControl(b)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		// The layout is fixed, so the bytes themselves must come back.
		enc, err := AppendFileControl(nil, c)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("AppendFileControl(%+v) = %x, %v; parsed from %x", c, enc, err, b)
		}
	})
}

func FuzzParseRoomFileWant(f *testing.F) {
	f.Add(mustHex("0f 000102030405060708090a0b0c0d0e0f" + root32ab))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, b, ParseRoomFileWant, AppendRoomFileWant) })
}

func FuzzParseRoomFileNote(f *testing.F) {
	f.Add(mustHex("00 01" + root32ab + " 800186a0 10 05 612e747874"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, b, ParseRoomFileNote, AppendRoomFileNote) })
}
