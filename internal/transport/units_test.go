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

// In a chat every lone packet's ACK is held: RFC 9002's min and smoothed
// RTT keep the hold (a peer's report may not take them below what was
// seen), while the path's figures, which people are shown, leave it out.
func TestPathRTTLeavesOutTheAckHold(t *testing.T) {
	var r rttStats
	const path, hold = 100 * time.Microsecond, 1100 * time.Microsecond
	for range 50 {
		r.update(path+hold, hold)
	}
	if r.min != path+hold || r.srtt() != path+hold {
		t.Errorf("RFC 9002 min %v srtt %v, want both %v: a held ACK is all that was ever seen", r.min, r.srtt(), path+hold)
	}
	if r.pathMin != path || r.pathSmoothed != path {
		t.Errorf("path min %v smoothed %v, want %v", r.pathMin, r.pathSmoothed, path)
	}
	r.update(50*time.Microsecond, 3*time.Millisecond) // a hold longer than the sample says nothing
	if r.pathMin != path || r.pathSmoothed != path {
		t.Errorf("after a sample shorter than its hold: path min %v smoothed %v, want %v", r.pathMin, r.pathSmoothed, path)
	}
}

func TestCubicReducesOncePerRecovery(t *testing.T) {
	c := newCubic()
	t0 := time.Unix(0, 0)
	for range 10 {
		c.onSent(basePacket)
	}
	if c.canSend(0) {
		t.Fatal("can send past the initial window")
	}
	if !c.canSend(limitedTransmit * basePacket) {
		t.Fatal("limited transmit does not let a packet go")
	}
	c.onLost(basePacket, t0.Add(time.Millisecond), t0.Add(2*time.Millisecond))
	w := c.window
	if want := initialWindow * 7 / 10; w != want {
		t.Errorf("window %d after a loss, want %d", w, want)
	}
	c.onLost(basePacket, t0.Add(time.Millisecond), t0.Add(3*time.Millisecond))
	if c.window != w {
		t.Errorf("a second loss from the same flight shrank the window again to %d", c.window)
	}
	for i := range 8 {
		c.onSent(basePacket)
		c.onAcked(basePacket, t0.Add(4*time.Millisecond), t0.Add(time.Duration(5+i)*time.Millisecond), time.Millisecond)
		c.onSent(basePacket)
	}
	if c.window <= w {
		t.Errorf("window %d did not grow after recovery", c.window)
	}
	// A loss of a packet sent after the reduction is a new congestion
	// event; the window never goes below the minimum.
	for i := range 20 {
		c.onLost(basePacket, t0.Add(time.Duration(20+2*i)*time.Millisecond), t0.Add(time.Duration(21+2*i)*time.Millisecond))
	}
	if c.window != minimumWindow {
		t.Errorf("window %d after many losses, want the minimum %d", c.window, minimumWindow)
	}
}

// The window grows only while it is used (RFC 9002 section 7.8): an
// application that sends little does not build up a window it could later
// flood the path with.
func TestCubicDoesNotGrowUnused(t *testing.T) {
	c := newCubic()
	t0 := time.Unix(0, 0)
	for i := range 1000 {
		c.onSent(basePacket) // one packet at a time: far below the window
		c.onAcked(basePacket, t0.Add(time.Duration(i)*time.Millisecond), t0.Add(time.Duration(i+1)*time.Millisecond), time.Millisecond)
	}
	if c.window != initialWindow {
		t.Errorf("window %d after 1000 lone packets, want the initial %d", c.window, initialWindow)
	}
}

// In congestion avoidance on a short path CUBIC grows as Reno does with
// its Reno-friendly increase: about 0.53 packets a round trip after a
// reduction (RFC 9438 section 4.3).
func TestCubicRenoFriendlyGrowth(t *testing.T) {
	c := newCubic()
	c.window = 20 * basePacket
	now := time.Unix(0, 0)
	c.onLost(basePacket, now.Add(time.Nanosecond), now.Add(time.Nanosecond)) // to 14 packets
	start := c.window
	rtt := 100 * time.Microsecond
	c.inFlight = 0
	for range 10 { // ten round trips of a sender that fills the window
		for c.canSend(0) {
			c.onSent(basePacket)
		}
		now = now.Add(rtt)
		for range c.window / basePacket {
			c.onAcked(basePacket, now, now, rtt)
			for c.canSend(0) {
				c.onSent(basePacket)
			}
		}
	}
	got := float64(c.window-start) / basePacket / 10
	if got < 0.45 || got > 0.6 {
		t.Errorf("grew %.2f packets a round trip, want about %.2f", got, cubicAlpha)
	}
}

// A message the handler cannot take is kept, whole, and its chunks are
// accepted (so the sender need not send them again); retry offers it
// again, and nothing after it overtakes it. A whole message in one chunk,
// which is delivered without a copy, is kept too.
func TestReassemblyRetriesWhatWasNotConsumed(t *testing.T) {
	for _, first := range [][]byte{bytes.Repeat([]byte("b"), 2000), []byte("one chunk")} {
		var r reassembly
		var got [][]byte
		var offers int
		fail := true
		deliver := func(b []byte) error {
			offers++
			if fail {
				return errors.New("disk full")
			}
			got = append(got, bytes.Clone(b))
			return nil
		}
		small := []byte("after")
		for i, c := range chunksOf(0, first) {
			if err := r.add(&c, deliver); err != nil {
				t.Fatalf("chunk %d of message 0 with a failing handler: %v", i, err)
			}
		}
		if r.stalled() == nil || offers != 1 {
			t.Fatalf("message 0 offered %d times, stalled %v; want once, and stalled", offers, r.stalled())
		}
		cs := chunksOf(1, small)[0]
		if err := r.add(&cs, deliver); err != nil {
			t.Fatal(err)
		}
		if offers != 1 || len(got) != 0 {
			t.Fatalf("a later chunk made %d offers, delivered %d: want it held, message 0 not offered again", offers-1, len(got))
		}
		if r.retry(deliver) {
			t.Fatal("retry reported success with a failing handler")
		}
		fail = false
		if !r.retry(deliver) || r.stalled() != nil {
			t.Fatal("retry failed with a working handler")
		}
		if len(got) != 2 || !bytes.Equal(got[0], first) || !bytes.Equal(got[1], small) || r.next != 2 {
			t.Fatalf("after the retry got %d messages, next %d; want both in order, next 2", len(got), r.next)
		}
	}
}

func TestRing(t *testing.T) {
	var r ring[int]
	next, head := 0, 0
	// Grow well past ringKeep, drain to shrink, and wrap around in between.
	for _, step := range []struct{ push, pop int }{{10, 3}, {20, 25}, {3 * ringKeep, ringKeep}, {5, 2*ringKeep + 7}, {100, 90}} {
		for range step.push {
			r.push(next)
			next++
		}
		for range step.pop {
			if got := r.pop(); got != head {
				t.Fatalf("popped %d, want %d", got, head)
			}
			head++
		}
		if r.len() != next-head {
			t.Fatalf("len %d, want %d", r.len(), next-head)
		}
		for i := range r.len() {
			if r.at(i) != head+i {
				t.Fatalf("at(%d) = %d, want %d", i, r.at(i), head+i)
			}
		}
	}
	if len(r.buf) > ringKeep {
		t.Errorf("a ring holding %d keeps a buffer of %d", r.len(), len(r.buf))
	}
	defer func() {
		if recover() == nil {
			t.Error("at past the end did not panic")
		}
	}()
	r.at(r.len())
}

func TestSizeClasses(t *testing.T) {
	for _, n := range []int{1, 100, 128, 129, 1000, 1024, 5000, 256 << 10, MaxMessage} {
		c := sizeClass(n)
		if size := classSize(c); size < n || (n > 1<<minClassShift && size >= 2*n) {
			t.Errorf("%d bytes: class %d of %d bytes", n, c, size)
		}
		if c >= numClasses {
			t.Errorf("%d bytes: class %d of %d", n, c, numClasses)
		}
	}
	m := newOutMessage(MaxMessage)
	if len(m.data) != MaxMessage {
		t.Fatalf("message of %d bytes for %d", len(m.data), MaxMessage)
	}
	freeOutMessage(m)
	p := newPartial(3000)
	if len(p.data) != 3000 || p.missing != 3 {
		t.Fatalf("partial of %d bytes missing %d chunks, want 3000 and 3", len(p.data), p.missing)
	}
	freePartial(p)
}
