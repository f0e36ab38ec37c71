package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// ackGolden: type 02, then varints largest, delay, delivered, range count
// (ranges - 1), first range (largest - smallest), then (gap, length) pairs
// with gap = previous smallest - this largest - 2.
var ackGolden = []struct {
	name string
	a    AckFrame
	hex  string
}{
	{
		name: "one range",
		// 100 = 0x64 → 4064, 1000 = 0x3e8 → 43e8, first range 100-90 = 10.
		a:   AckFrame{DelayMicros: 1000, Delivered: 7, NumRanges: 1, Ranges: [MaxAckRanges]AckRange{{90, 100}}},
		hex: "02 4064 43e8 07 00 0a",
	},
	{
		name: "three ranges",
		// first 100-95 = 5; gap 95-90-2 = 3, length 90-80 = 10;
		// gap 80-10-2 = 68 → 4044, length 10-0 = 10.
		a: AckFrame{Delivered: 16384, NumRanges: 3, Ranges: [MaxAckRanges]AckRange{
			{95, 100}, {80, 90}, {0, 10},
		}},
		hex: "02 4064 00 80004000 02 05 03 0a 4044 0a",
	},
	{
		name: "one missing packet is gap 0",
		a:    AckFrame{NumRanges: 2, Ranges: [MaxAckRanges]AckRange{{5, 5}, {3, 3}}},
		hex:  "02 05 00 00 01 00 00 00",
	},
	{
		name: "packet 0 only",
		a:    AckFrame{NumRanges: 1, Ranges: [MaxAckRanges]AckRange{{0, 0}}},
		hex:  "02 00 00 00 00 00",
	},
	{
		name: "largest varints",
		a:    AckFrame{DelayMicros: MaxVarint, NumRanges: 1, Ranges: [MaxAckRanges]AckRange{{0, MaxVarint}}},
		hex:  "02 ffffffffffffffff ffffffffffffffff 00 00 ffffffffffffffff",
	},
}

// chunkGolden: type 03, then varints seq, message length, offset, data
// length, then the data.
var chunkGolden = []struct {
	name string
	c    ChunkFrame
	hex  string
}{
	{
		name: "short message",
		c:    ChunkFrame{Seq: 5, MsgLen: 3, Offset: 0, Data: []byte("abc")},
		hex:  "03 05 03 00 03 616263",
	},
	{
		name: "last chunk",
		// 64 → 4040, 2053 = 0x805 → 4805, 2048 = 0x800 → 4800.
		c:   ChunkFrame{Seq: 64, MsgLen: 2053, Offset: 2048, Data: []byte("hello")},
		hex: "03 4040 4805 4800 05 68656c6c6f",
	},
	{
		name: "full chunk",
		// 1024 = 0x400 → 4400.
		c:   ChunkFrame{Seq: 0, MsgLen: 1024, Offset: 0, Data: bytes.Repeat([]byte("x"), ChunkSize)},
		hex: "03 00 4400 00 4400" + strings.Repeat("78", ChunkSize),
	},
	{
		name: "largest",
		// The last chunk of the longest message: MaxMessageLen = 263168 =
		// 0x40400 → 80040400, offset 262144 = 0x40000 → 80040000. This is
		// the frame MaxChunkFrameOverhead is measured on.
		c: ChunkFrame{Seq: MaxVarint, MsgLen: MaxMessageLen, Offset: MaxMessageLen - ChunkSize,
			Data: bytes.Repeat([]byte("y"), ChunkSize)},
		hex: "03 ffffffffffffffff 80040400 80040000 4400" + strings.Repeat("79", ChunkSize),
	},
}

func TestAckFrameAppend(t *testing.T) {
	for _, tc := range ackGolden {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.hex)
			if got := tc.a.Append(nil); !bytes.Equal(got, want) {
				t.Errorf("Append(%s) =\n%x, want\n%x", ackString(&tc.a), got, want)
			}
			if got := tc.a.Len(); got != len(want) {
				t.Errorf("Len() = %d, want %d", got, len(want))
			}
		})
	}
}

func TestParseFrameAck(t *testing.T) {
	for _, tc := range ackGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(tc.hex)
			var f Frame
			n, err := ParseFrame(append(b, FramePing), &f)
			if err != nil || n != len(b) || f.Type != FrameAck {
				t.Fatalf("ParseFrame(%x) = %d, %v, type %d; want %d, nil, ACK", b, n, err, f.Type, len(b))
			}
			if !ackEqual(&f.Ack, &tc.a) {
				t.Errorf("ParseFrame(%x) =\n%s, want\n%s", b, ackString(&f.Ack), ackString(&tc.a))
			}
		})
	}
}

func TestChunkFrameAppend(t *testing.T) {
	for _, tc := range chunkGolden {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.hex)
			if got := tc.c.Append(nil); !bytes.Equal(got, want) {
				t.Errorf("Append =\n%x, want\n%x", got, want)
			}
			if got := tc.c.Len(); got != len(want) {
				t.Errorf("Len() = %d, want %d", got, len(want))
			}
		})
	}
}

func TestMaxChunkFrameOverhead(t *testing.T) {
	c := chunkGolden[len(chunkGolden)-1].c
	if got := c.Len() - len(c.Data); got != MaxChunkFrameOverhead {
		t.Errorf("largest chunk frame overhead = %d, want MaxChunkFrameOverhead = %d", got, MaxChunkFrameOverhead)
	}
}

func TestParseFrameChunk(t *testing.T) {
	for _, tc := range chunkGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(tc.hex)
			var f Frame
			d := append(b, FramePing)
			n, err := ParseFrame(d, &f)
			if err != nil || n != len(b) || f.Type != FrameChunk {
				t.Fatalf("ParseFrame = %d, %v, type %d; want %d, nil, CHUNK", n, err, f.Type, len(b))
			}
			c := f.Chunk
			if c.Seq != tc.c.Seq || c.MsgLen != tc.c.MsgLen || c.Offset != tc.c.Offset || !bytes.Equal(c.Data, tc.c.Data) {
				t.Errorf("ParseFrame = {%d %d %d %q}, want {%d %d %d %q}",
					c.Seq, c.MsgLen, c.Offset, c.Data, tc.c.Seq, tc.c.MsgLen, tc.c.Offset, tc.c.Data)
			}
			// Data aliases the datagram: parsing copies nothing.
			if &c.Data[0] != &d[n-len(c.Data)] {
				t.Errorf("chunk data does not alias the datagram")
			}
		})
	}
}

// TestParseFrameControl covers the frames with no fields, which have no
// Append of their own: a sender appends the type byte.
func TestParseFrameControl(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		typ  byte
		want int
	}{
		{"00", FramePadding, 1},
		{"00 00 00", FramePadding, 3},
		{"00 00 01", FramePadding, 2}, // a run of padding ends at the first non-zero byte
		{"01", FramePing, 1},
		{"01 01", FramePing, 1},
		{"04", FrameClose, 1},
		{"04 00", FrameClose, 1},
	} {
		b := mustHex(tc.hex)
		var f Frame
		n, err := ParseFrame(b, &f)
		if err != nil || n != tc.want || f.Type != tc.typ {
			t.Errorf("ParseFrame(%x) = %d, %v, type %d; want %d, nil, type %d", b, n, err, f.Type, tc.want, tc.typ)
		}
	}
}

// TestParseFrames walks the frames of one packet the way a receiver does.
func TestParseFrames(t *testing.T) {
	var b []byte
	b = ackGolden[1].a.Append(b)
	b = chunkGolden[1].c.Append(b)
	b = append(b, FramePing, FrameClose)
	b = append(b, make([]byte, 10)...)

	var got []byte
	var f Frame
	for len(b) > 0 {
		n, err := ParseFrame(b, &f)
		if err != nil {
			t.Fatalf("ParseFrame(%x): %v", b, err)
		}
		got = append(got, f.Type)
		b = b[n:]
	}
	if want := []byte{FrameAck, FrameChunk, FramePing, FrameClose, FramePadding}; !bytes.Equal(got, want) {
		t.Errorf("frame types %x, want %x", got, want)
	}
}

// Every field of an ACK or a CHUNK frame is required, so every proper
// prefix is truncated. (A datagram's frame region cut at a frame boundary is
// a valid shorter packet; that is the transport's business, not a frame's.)
func TestParseFrameTruncated(t *testing.T) {
	var encodings [][]byte
	for _, tc := range ackGolden {
		encodings = append(encodings, mustHex(tc.hex))
	}
	for _, tc := range chunkGolden {
		encodings = append(encodings, mustHex(tc.hex))
	}
	encodings = append(encodings, []byte{FramePing}, []byte{FrameClose}, []byte{FramePadding})
	for _, b := range encodings {
		for i := range len(b) {
			var f Frame
			if _, err := ParseFrame(b[:i], &f); !errors.Is(err, ErrTruncated) {
				t.Errorf("ParseFrame(%x): %v, want ErrTruncated", b[:i], err)
			}
		}
	}
}

// A run of PADDING is one frame that ends wherever the bytes do, so a
// prefix of a run is a shorter run, not a truncated one.
func TestParseFramePaddingPrefix(t *testing.T) {
	b := make([]byte, 8)
	for i := 1; i <= len(b); i++ {
		var f Frame
		n, err := ParseFrame(b[:i], &f)
		if err != nil || n != i || f.Type != FramePadding {
			t.Errorf("ParseFrame(%x) = %d, %v, type %d; want %d, nil, PADDING", b[:i], n, err, f.Type, i)
		}
	}
}

func TestParseFrameUnknownType(t *testing.T) {
	for typ := range 256 {
		// Enough zeros after the type byte for any known frame to parse or
		// fail for its own reasons.
		b := append([]byte{byte(typ)}, make([]byte, 16)...)
		var f Frame
		_, err := ParseFrame(b, &f)
		switch typ {
		case FramePadding, FramePing, FrameAck, FrameChunk, FrameClose:
			if errors.Is(err, ErrType) {
				t.Errorf("ParseFrame(%x): %v", b, err)
			}
		default:
			if !errors.Is(err, ErrType) {
				t.Errorf("ParseFrame(%x): %v, want ErrType", b, err)
			}
		}
	}
}

// ackWithRanges encodes an ACK frame of n ranges of one packet each, one
// missing packet apart (gap 0, length 0), below largest 1000.
func ackWithRanges(n int) []byte {
	b := []byte{FrameAck}
	b = AppendVarint(b, 1000)
	b = append(b, 0, 0) // delay, delivered
	b = AppendVarint(b, uint64(n-1))
	b = append(b, 0) // first range
	for range n - 1 {
		b = append(b, 0, 0)
	}
	return b
}

func TestParseFrameAckRanges(t *testing.T) {
	var f Frame
	b := ackWithRanges(MaxAckRanges)
	if n, err := ParseFrame(b, &f); err != nil || n != len(b) || f.Ack.NumRanges != MaxAckRanges {
		t.Fatalf("ParseFrame(%d ranges) = %d, %v, %d ranges", MaxAckRanges, n, err, f.Ack.NumRanges)
	}
	for i, r := range f.Ack.Ranges {
		if want := uint64(1000 - 2*i); r != (AckRange{want, want}) {
			t.Errorf("range %d = %v, want [%d,%d]", i, r, want, want)
		}
	}
}

func TestParseFrameRejects(t *testing.T) {
	data := func(n int) string { return strings.Repeat("61", n) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		// ACK.
		{"ack MaxAckRanges+1 ranges", ackWithRanges(MaxAckRanges + 1), ErrMalformed},
		{"ack huge range count", mustHex("02 00 00 00 ffffffffffffffff 00"), ErrMalformed},
		{"ack first range > largest", mustHex("02 05 00 00 00 06"), ErrMalformed},
		{"ack first range > largest 0", mustHex("02 00 00 00 00 01"), ErrMalformed},
		// Largest 10, first range 5 (smallest 5): a gap of 4 would put the
		// next range's largest at 5-4-2 = -1.
		{"ack gap underflows", mustHex("02 0a 00 00 01 05 04 00"), ErrMalformed},
		{"ack huge gap", mustHex("02 0a 00 00 01 05 ffffffffffffffff 00"), ErrMalformed},
		// Gap 3 puts the next range's largest at 0; a length of 1 then
		// puts its smallest at -1.
		{"ack length underflows", mustHex("02 0a 00 00 01 05 03 01"), ErrMalformed},
		{"ack huge length", mustHex("02 0a 00 00 01 05 00 ffffffffffffffff"), ErrMalformed},
		{"ack range after packet 0", mustHex("02 03 00 00 01 03 00 00"), ErrMalformed},

		// CHUNK. Each carries all the data its length field claims, so the
		// only thing wrong is the thing named.
		{"chunk offset 1", mustHex("03 00 4800 01 4400" + data(1024)), ErrMalformed},
		{"chunk offset 512", mustHex("03 00 4800 4200 4400" + data(1024)), ErrMalformed},
		{"chunk offset 1023", mustHex("03 00 4800 43ff 4400" + data(1024)), ErrMalformed},
		{"chunk offset = length", mustHex("03 00 4400 4400 00"), ErrMalformed},
		{"chunk offset > length", mustHex("03 00 05 4400 00"), ErrMalformed},
		{"chunk huge offset", mustHex("03 00 05 fffffffffffffc00 00"), ErrMalformed},
		{"chunk data 2 of 3", mustHex("03 00 03 00 02 6161"), ErrMalformed},
		{"chunk data 4 of 3", mustHex("03 00 03 00 04 61616161"), ErrMalformed},
		{"chunk data 1023 of full", mustHex("03 00 4800 00 43ff" + data(1023)), ErrMalformed},
		{"chunk data 1025 of full", mustHex("03 00 4800 00 4401" + data(1025)), ErrMalformed},
		// 1500 = 0x5dc → 45dc; the last chunk is 476 = 0x1dc bytes.
		{"chunk last 475 of 476", mustHex("03 00 45dc 4400 41db" + data(475)), ErrMalformed},
		{"chunk last 477 of 476", mustHex("03 00 45dc 4400 41dd" + data(477)), ErrMalformed},
		{"chunk huge data length", mustHex("03 00 03 00 ffffffffffffffff 616161"), ErrMalformed},
		{"chunk message length 0", mustHex("03 00 00 00 00"), ErrMalformed},
		// MaxMessageLen+1 = 0x40401.
		{"chunk message length MaxMessageLen+1", mustHex("03 00 80040401 00 4400" + data(1024)), ErrMalformed},
		{"chunk huge message length", mustHex("03 00 ffffffffffffffff 00 4400" + data(1024)), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			if _, err := ParseFrame(tc.b, &f); !errors.Is(err, tc.want) {
				t.Errorf("ParseFrame(%x): %v, want %v", tc.b, err, tc.want)
			}
		})
	}
}

// TestParseFrameAccepts holds the valid neighbours of the rejections above,
// so that the limits are shown to sit exactly where they should.
func TestParseFrameAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want AckFrame
	}{
		{"ack first range = largest", mustHex("02 05 00 00 00 05"),
			AckFrame{NumRanges: 1, Ranges: [MaxAckRanges]AckRange{{0, 5}}}},
		{"ack gap down to 0", mustHex("02 0a 00 00 01 05 03 00"),
			AckFrame{NumRanges: 2, Ranges: [MaxAckRanges]AckRange{{5, 10}, {0, 0}}}},
		{"ack non-minimal varints", mustHex("02 400a 8000 0000 c000000000000000 4001 4005 4003 4000"),
			AckFrame{NumRanges: 2, Ranges: [MaxAckRanges]AckRange{{5, 10}, {0, 0}}}},
	} {
		var f Frame
		if n, err := ParseFrame(tc.b, &f); err != nil || n != len(tc.b) || !ackEqual(&f.Ack, &tc.want) {
			t.Errorf("%s: ParseFrame(%x) = %d, %v, %s; want %s", tc.name, tc.b, n, err, ackString(&f.Ack), ackString(&tc.want))
		}
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want ChunkFrame
	}{
		{"chunk last 476", mustHex("03 07 45dc 4400 41dc" + strings.Repeat("62", 476)),
			ChunkFrame{Seq: 7, MsgLen: 1500, Offset: 1024, Data: bytes.Repeat([]byte("b"), 476)}},
		{"chunk of 1 byte", mustHex("03 07 01 00 01 62"),
			ChunkFrame{Seq: 7, MsgLen: 1, Offset: 0, Data: []byte("b")}},
	} {
		var f Frame
		n, err := ParseFrame(tc.b, &f)
		c := f.Chunk
		if err != nil || n != len(tc.b) || c.Seq != tc.want.Seq || c.MsgLen != tc.want.MsgLen ||
			c.Offset != tc.want.Offset || !bytes.Equal(c.Data, tc.want.Data) {
			t.Errorf("%s: ParseFrame(%x) = %d, %v, {%d %d %d %d bytes}", tc.name, tc.b, n, err, c.Seq, c.MsgLen, c.Offset, len(c.Data))
		}
	}
}

// randUpTo returns a value in [0, max] whose size is itself random, so that
// every varint length turns up often. max must not exceed MaxVarint.
func randUpTo(r *rand.Rand, max uint64) uint64 {
	limit := min(max, uint64(1)<<r.IntN(63)-1)
	return r.Uint64N(limit + 1)
}

// randAck returns a valid ACK frame whose values are at most top.
func randAck(r *rand.Rand, top uint64) AckFrame {
	var a AckFrame
	a.DelayMicros = randUpTo(r, MaxVarint)
	a.Delivered = randUpTo(r, MaxVarint)
	hi := randUpTo(r, top)
	want := 1 + r.IntN(MaxAckRanges)
	for a.NumRanges < want {
		lo := hi - randUpTo(r, hi)
		a.Ranges[a.NumRanges] = AckRange{Smallest: lo, Largest: hi}
		a.NumRanges++
		if lo < 2 {
			break // no room for a gap and another range
		}
		hi = lo - 2 - randUpTo(r, lo-2)
	}
	return a
}

func TestAckFrameRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		a := randAck(r, MaxVarint)
		b := a.Append(nil)
		if a.Len() != len(b) {
			t.Fatalf("%s: Len() = %d, Append wrote %d bytes", ackString(&a), a.Len(), len(b))
		}
		if a.Largest() != a.Ranges[0].Largest {
			t.Fatalf("%s: Largest() = %d", ackString(&a), a.Largest())
		}
		var f Frame
		n, err := ParseFrame(b, &f)
		if err != nil || n != len(b) || !ackEqual(&f.Ack, &a) {
			t.Fatalf("ParseFrame(Append(%s)) = %d, %v, %s", ackString(&a), n, err, ackString(&f.Ack))
		}
	}
}

// acksBrute is Acks written without relying on the order of the ranges.
func acksBrute(a *AckFrame, pn uint64) bool {
	for _, r := range a.Ranges[:a.NumRanges] {
		if r.Smallest <= pn && pn <= r.Largest {
			return true
		}
	}
	return false
}

func TestAckFrameAcks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Small frames: every packet number up to past the largest.
	for range 2000 {
		a := randAck(r, 300)
		for pn := range a.Largest() + 3 {
			if got, want := a.Acks(pn), acksBrute(&a, pn); got != want {
				t.Fatalf("%s: Acks(%d) = %v, want %v", ackString(&a), pn, got, want)
			}
		}
	}
	// Large frames: the edges of every range, and random points.
	for range 2000 {
		a := randAck(r, MaxVarint)
		var pns []uint64
		for _, rg := range a.Ranges[:a.NumRanges] {
			pns = append(pns, rg.Smallest-1, rg.Smallest, rg.Smallest+1, rg.Largest-1, rg.Largest, rg.Largest+1)
		}
		for range 20 {
			pns = append(pns, randUpTo(r, MaxVarint))
		}
		pns = append(pns, 0, MaxVarint, 1<<64-1)
		for _, pn := range pns {
			if got, want := a.Acks(pn), acksBrute(&a, pn); got != want {
				t.Fatalf("%s: Acks(%d) = %v, want %v", ackString(&a), pn, got, want)
			}
		}
	}
}

func TestAckFrameLargest(t *testing.T) {
	for _, tc := range ackGolden {
		var want uint64
		for _, r := range tc.a.Ranges[:tc.a.NumRanges] {
			want = max(want, r.Largest)
		}
		if got := tc.a.Largest(); got != want {
			t.Errorf("%s: Largest() = %d, want %d", tc.name, got, want)
		}
	}
}

func TestFrameAllocs(t *testing.T) {
	ack := ackWithRanges(MaxAckRanges)
	chunk := mustHex(chunkGolden[3].hex)
	var f Frame
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"ACK", ack}, {"CHUNK", chunk}} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := ParseFrame(tc.b, &f); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("ParseFrame(%s): %v allocations, want 0", tc.name, n)
		}
	}

	buf := make([]byte, 0, MaxDatagram)
	a := ackGolden[1].a
	if n := testing.AllocsPerRun(100, func() {
		buf = a.Append(buf[:0])
	}); n != 0 {
		t.Errorf("AckFrame.Append: %v allocations, want 0", n)
	}
	c := chunkGolden[3].c
	h := headerGolden[2].h
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendHeader(buf[:0], h)
		buf = c.Append(buf)
	}); n != 0 {
		t.Errorf("AppendHeader + ChunkFrame.Append: %v allocations, want 0", n)
	}
}

// checkAck checks what a parsed ACK frame promises its user.
func checkAck(t *testing.T, a *AckFrame) {
	t.Helper()
	if a.NumRanges < 1 || a.NumRanges > MaxAckRanges {
		t.Fatalf("ACK with %d ranges", a.NumRanges)
	}
	for i, r := range a.Ranges[:a.NumRanges] {
		if r.Smallest > r.Largest || r.Largest > MaxVarint {
			t.Fatalf("%s: range %d is %v", ackString(a), i, r)
		}
		if i > 0 && r.Largest+1 >= a.Ranges[i-1].Smallest {
			t.Fatalf("%s: range %d touches or overlaps the one before", ackString(a), i)
		}
	}
}

func FuzzParseFrames(f *testing.F) {
	for _, tc := range ackGolden {
		f.Add(mustHex(tc.hex))
	}
	for _, tc := range chunkGolden {
		f.Add(mustHex(tc.hex))
	}
	f.Add(ackWithRanges(MaxAckRanges))
	f.Add(ackWithRanges(MaxAckRanges + 1))
	f.Add(mustHex("00 00 00 01 04"))
	f.Add(mustHex("02 0a 00 00 01 05 04 00"))
	f.Add(mustHex("03 00 45dc 4400 41dc" + strings.Repeat("62", 476) + "01 02 05 00 00 00 05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame // reused across frames, as a receiver does
		for len(b) > 0 {
			n, err := ParseFrame(b, &fr)
			if err != nil {
				checkSentinel(t, err)
				return
			}
			if n < 1 || n > len(b) {
				t.Fatalf("ParseFrame(%x) took %d bytes", b, n)
			}
			switch fr.Type {
			case FramePadding:
				if !bytes.Equal(b[:n], make([]byte, n)) || (n < len(b) && b[n] == FramePadding) {
					t.Fatalf("ParseFrame(%x): padding run of %d", b, n)
				}
			case FramePing, FrameClose:
				if n != 1 {
					t.Fatalf("ParseFrame(%x): frame type %d of %d bytes", b, fr.Type, n)
				}
			case FrameAck:
				a := fr.Ack
				checkAck(t, &a)
				// Varints may be non-minimal, so compare values, and the
				// minimal encoding is never longer.
				enc := a.Append(nil)
				if len(enc) != a.Len() || len(enc) > n {
					t.Fatalf("Append(%s): %d bytes, Len %d, parsed from %d", ackString(&a), len(enc), a.Len(), n)
				}
				var f2 Frame
				n2, err := ParseFrame(enc, &f2)
				if err != nil || n2 != len(enc) || f2.Type != FrameAck || !ackEqual(&f2.Ack, &a) {
					t.Fatalf("ParseFrame(%x) = %d, %v, %s; want %s", enc, n2, err, ackString(&f2.Ack), ackString(&a))
				}
			case FrameChunk:
				c := fr.Chunk
				if c.MsgLen == 0 || c.MsgLen > MaxMessageLen || c.Offset%ChunkSize != 0 || c.Offset >= c.MsgLen ||
					uint64(len(c.Data)) != min(ChunkSize, c.MsgLen-c.Offset) {
					t.Fatalf("ParseFrame(%x) accepted chunk {%d %d %d %d bytes}", b, c.Seq, c.MsgLen, c.Offset, len(c.Data))
				}
				if &c.Data[0] != &b[n-len(c.Data)] {
					t.Fatalf("chunk data is not the end of the frame")
				}
				enc := c.Append(nil)
				if len(enc) != c.Len() || len(enc) > n || len(enc)-len(c.Data) > MaxChunkFrameOverhead {
					t.Fatalf("Append: %d bytes, Len %d, parsed from %d", len(enc), c.Len(), n)
				}
				var f2 Frame
				n2, err := ParseFrame(enc, &f2)
				c2 := f2.Chunk
				if err != nil || n2 != len(enc) || f2.Type != FrameChunk || c2.Seq != c.Seq ||
					c2.MsgLen != c.MsgLen || c2.Offset != c.Offset || !bytes.Equal(c2.Data, c.Data) {
					t.Fatalf("ParseFrame(%x) = %d, %v, {%d %d %d %d bytes}", enc, n2, err, c2.Seq, c2.MsgLen, c2.Offset, len(c2.Data))
				}
			default:
				t.Fatalf("ParseFrame(%x) accepted frame type %d", b, fr.Type)
			}
			b = b[n:]
		}
	})
}

func BenchmarkParseFrameChunk(b *testing.B) {
	d := mustHex(chunkGolden[2].hex)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if _, err := ParseFrame(d, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFrameAck32(b *testing.B) {
	// 32 ranges with multi-byte varints, as after heavy loss.
	var a AckFrame
	hi := uint64(1 << 40)
	for i := range MaxAckRanges {
		a.Ranges[i] = AckRange{Smallest: hi - 100, Largest: hi}
		hi -= 300
	}
	a.NumRanges = MaxAckRanges
	a.DelayMicros, a.Delivered = 25000, 1<<20
	d := a.Append(nil)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if _, err := ParseFrame(d, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHeaderChunk(b *testing.B) {
	h := headerGolden[2].h
	c := chunkGolden[2].c
	buf := make([]byte, 0, MaxDatagram)
	b.ReportAllocs()
	b.SetBytes(int64(HeaderLen + c.Len()))
	for b.Loop() {
		buf = AppendHeader(buf[:0], h)
		buf = c.Append(buf)
	}
}
