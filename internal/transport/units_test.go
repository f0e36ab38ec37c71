package transport

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestReceivedSetRanges(t *testing.T) {
	var s receivedSet
	for _, pn := range []uint64{5, 1, 2, 3, 9, 4, 7} {
		if s.add(pn) {
			t.Fatalf("%d reported as duplicate", pn)
		}
	}
	if !s.add(3) {
		t.Error("3 again was not a duplicate")
	}
	want := []wire.AckRange{{Smallest: 9, Largest: 9}, {Smallest: 7, Largest: 7}, {Smallest: 1, Largest: 5}}
	if len(s.ranges) != len(want) {
		t.Fatalf("ranges %v, want %v", s.ranges, want)
	}
	for i := range want {
		if s.ranges[i] != want[i] {
			t.Fatalf("ranges %v, want %v", s.ranges, want)
		}
	}
	s.add(8) // joins 7 and 9
	if len(s.ranges) != 2 || s.ranges[0] != (wire.AckRange{Smallest: 7, Largest: 9}) {
		t.Fatalf("after 8: %v", s.ranges)
	}
}

func TestReceivedSetIsBounded(t *testing.T) {
	var s receivedSet
	for pn := uint64(0); pn < 1000; pn += 2 {
		s.add(pn)
	}
	if len(s.ranges) != wire.MaxAckRanges {
		t.Fatalf("%d ranges kept, want the newest %d", len(s.ranges), wire.MaxAckRanges)
	}
	if largest, _ := s.largest(); largest != 998 {
		t.Errorf("largest %d, want 998", largest)
	}
	var a wire.AckFrame
	s.fill(&a)
	if a.NumRanges != wire.MaxAckRanges || !a.Acks(998) || a.Acks(997) {
		t.Errorf("ACK frame from the set is wrong: %d ranges", a.NumRanges)
	}
}

func chunksOf(seq uint64, msg []byte) []wire.ChunkFrame {
	var cs []wire.ChunkFrame
	for off := 0; off < len(msg); off += wire.ChunkSize {
		cs = append(cs, wire.ChunkFrame{Seq: seq, MsgLen: uint64(len(msg)), Offset: uint64(off),
			Data: msg[off:min(off+wire.ChunkSize, len(msg))]})
	}
	return cs
}

func TestReassemblyOrdersAndDeduplicates(t *testing.T) {
	var r reassembly
	var got [][]byte
	deliver := func(b []byte) error { got = append(got, bytes.Clone(b)); return nil }
	m0, m1, m2 := bytes.Repeat([]byte("a"), 3000), []byte("short"), bytes.Repeat([]byte("c"), 2048)
	c0, c1, c2 := chunksOf(0, m0), chunksOf(1, m1), chunksOf(2, m2)
	// Out of order, with duplicates.
	for _, c := range []wire.ChunkFrame{c2[1], c1[0], c0[2], c0[0], c2[1], c2[0], c1[0], c0[1], c0[1]} {
		if err := r.add(&c, deliver); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 || !bytes.Equal(got[0], m0) || !bytes.Equal(got[1], m1) || !bytes.Equal(got[2], m2) {
		t.Fatalf("delivered %d messages, want m0 m1 m2 in order", len(got))
	}
	if r.buffered != 0 || len(r.partial) != 0 {
		t.Errorf("after delivery %d bytes still held", r.buffered)
	}
}

func TestReassemblyIsBounded(t *testing.T) {
	var r reassembly
	nothing := func([]byte) error { t.Fatal("delivered without message 0"); return nil }
	far := wire.ChunkFrame{Seq: recvWindowMessages, MsgLen: 1, Data: []byte("x")}
	if err := r.add(&far, nothing); err != errOverWindow {
		t.Errorf("chunk past the message window: %v", err)
	}
	// Fill the byte window with the first chunks of big messages 1, 2, ...
	big := make([]byte, wire.MaxMessageLen)
	held := 0
	for seq := uint64(1); ; seq++ {
		c := chunksOf(seq, big)[0]
		err := r.add(&c, nothing)
		if err == errOverWindow {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held++
	}
	if r.buffered > recvWindowBytes || held == 0 {
		t.Errorf("holding %d bytes in %d messages; the bound is %d", r.buffered, held, recvWindowBytes)
	}
	other := wire.ChunkFrame{Seq: 1, MsgLen: 5, Data: []byte("hello")}
	if err := r.add(&other, nothing); err != errMismatch {
		t.Errorf("chunk with another length for a held message: %v", err)
	}
}

func TestRTTEstimate(t *testing.T) {
	var r rttStats
	if r.pto() < time.Second {
		t.Errorf("PTO before any sample %v, want about 1s (RFC 9002's initial RTT)", r.pto())
	}
	r.update(100*time.Millisecond, 0)
	if r.srtt() != 100*time.Millisecond || r.variance != 50*time.Millisecond {
		t.Errorf("first sample: srtt %v var %v", r.srtt(), r.variance)
	}
	r.update(20*time.Millisecond, 0) // the path's minimum
	for range 50 {
		r.update(20*time.Millisecond+maxAckDelay, maxAckDelay)
	}
	if d := r.srtt() - 20*time.Millisecond; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("srtt %v after many 20ms samples held 5ms by the peer: the ack delay was not subtracted", r.srtt())
	}
	if r.min != 20*time.Millisecond {
		t.Errorf("min %v", r.min)
	}
}

func TestNewRenoHalvesOncePerRecovery(t *testing.T) {
	c := newNewReno()
	t0 := time.Unix(0, 0)
	for range 10 {
		c.onSent(maxPacket)
	}
	if c.canSend() {
		t.Fatal("can send past the initial window")
	}
	c.onLost(maxPacket, t0.Add(time.Millisecond), t0.Add(2*time.Millisecond))
	w := c.window
	if w != initialWindow/2 {
		t.Errorf("window %d after a loss, want %d", w, initialWindow/2)
	}
	c.onLost(maxPacket, t0.Add(time.Millisecond), t0.Add(3*time.Millisecond))
	if c.window != w {
		t.Errorf("a second loss from the same flight shrank the window again to %d", c.window)
	}
	c.onAcked(maxPacket, t0.Add(4*time.Millisecond))
	if c.window <= w {
		t.Errorf("window did not grow after recovery")
	}
}

// A message the handler cannot take stays, and is offered again when its
// sender resends a chunk of it; nothing after it overtakes it.
func TestReassemblyRetriesWhatWasNotConsumed(t *testing.T) {
	var r reassembly
	var got [][]byte
	fail := true
	deliver := func(b []byte) error {
		if fail {
			return errors.New("disk full")
		}
		got = append(got, bytes.Clone(b))
		return nil
	}
	big, small := bytes.Repeat([]byte("b"), 2000), []byte("after")
	cb := chunksOf(0, big)
	if err := r.add(&cb[0], deliver); err != nil {
		t.Fatal(err)
	}
	if err := r.add(&cb[1], deliver); !errors.As(err, new(notConsumed)) {
		t.Fatalf("completing chunk with a failing handler: %v", err)
	}
	cs := chunksOf(1, small)[0]
	if err := r.add(&cs, deliver); !errors.As(err, new(notConsumed)) {
		t.Fatalf("a later message overtook the one not consumed: %v", err)
	}
	fail = false
	if err := r.add(&cb[1], deliver); err != nil { // the resend
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], big) || !bytes.Equal(got[1], small) {
		t.Fatalf("after the resend got %d messages, want both in order", len(got))
	}
}
