package secure

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// scriptConn is a udp.BatchConn driven by hand: reads take the datagrams
// put in its inbox (copied, as a socket copies) and fail with errDrained
// once it is empty; writes collect in the pipeConn's outbox.
type scriptConn struct {
	pipeConn
	inbox    []udp.Message
	reads    int // ReadBatch calls
	mostRead int // the most datagrams one ReadBatch returned
	writes   int // WriteBatch calls
	mostSent int // the most datagrams one WriteBatch took
}

var errDrained = errors.New("scriptConn: inbox drained")

func (s *scriptConn) put(b []byte, from netip.AddrPort) {
	s.inbox = append(s.inbox, udp.Message{Buf: bytes.Clone(b), Addr: from})
}

// forward moves what from wrote into to's inbox, as coming from src.
func forward(from, to *scriptConn, src netip.AddrPort) {
	for _, d := range from.take() {
		to.put(d.b, src)
	}
}

func (s *scriptConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	if len(s.inbox) == 0 {
		return 0, netip.AddrPort{}, errDrained
	}
	m := s.inbox[0]
	s.inbox = s.inbox[1:]
	return copy(b, m.Buf), m.Addr, nil
}

func (s *scriptConn) ReadBatch(ms []udp.Message) (int, error) {
	if len(s.inbox) == 0 {
		return 0, errDrained
	}
	n := min(len(ms), len(s.inbox))
	for i := range n {
		ms[i].N, ms[i].Addr = copy(ms[i].Buf, s.inbox[i].Buf), s.inbox[i].Addr
	}
	s.inbox = s.inbox[n:]
	s.reads++
	s.mostRead = max(s.mostRead, n)
	return n, nil
}

func (s *scriptConn) WriteBatch(ms []udp.Message) (int, error) {
	for _, m := range ms {
		s.WriteTo(m.Buf, m.Addr)
	}
	s.writes++
	s.mostSent = max(s.mostSent, len(ms))
	return len(ms), nil
}

// plainOnly hides a conn's batch methods: a Conn over it cannot batch.
type plainOnly struct{ udp.Conn }

// io is how a test reads and writes a Conn: one datagram a call, or in
// batches.
type io struct {
	name  string
	inner func(*scriptConn) udp.Conn
	read  func(*Conn) []string              // every packet until the inbox is drained, as "packet from addr"
	write func(*Conn, []udp.Message) string // the packets' fate: how many taken, the first error
}

func readSingly(c *Conn) []string {
	var got []string
	b := make([]byte, wire.MaxDatagram)
	for {
		n, from, err := c.ReadFrom(b)
		if err != nil {
			return got
		}
		got = append(got, fmt.Sprintf("%s from %s", b[:n], from))
	}
}

func writeSingly(c *Conn, ms []udp.Message) string {
	took := 0
	var first error
	for _, m := range ms {
		if _, err := c.WriteTo(m.Buf, m.Addr); err != nil {
			first = cmpOr(first, err)
		} else {
			took++
		}
	}
	return fmt.Sprintf("took %d, first error %v", took, first)
}

func readBatches(c *Conn) []string {
	var got []string
	ms := make([]udp.Message, 4) // fewer than a script's datagrams: several reads
	for i := range ms {
		ms[i].Buf = make([]byte, wire.MaxDatagram)
	}
	for {
		n, err := c.ReadBatch(ms)
		if err != nil {
			return got
		}
		for _, m := range ms[:n] {
			got = append(got, fmt.Sprintf("%s from %s", m.Buf[:m.N], m.Addr))
		}
	}
}

func writeBatch(c *Conn, ms []udp.Message) string {
	took, err := c.WriteBatch(ms)
	return fmt.Sprintf("took %d, first error %v", took, err)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

var (
	singly        = io{"ReadFrom/WriteTo", func(s *scriptConn) udp.Conn { return s }, readSingly, writeSingly}
	batched       = io{"ReadBatch/WriteBatch", func(s *scriptConn) udp.Conn { return s }, readBatches, writeBatch}
	batchedSingly = io{"ReadBatch/WriteBatch over a conn that cannot batch",
		func(s *scriptConn) udp.Conn { return plainOnly{s} }, readBatches, writeBatch}
)

// outcome is everything a script shows of a pair of Conns.
type outcome struct {
	Delivered    map[string][]string // by reader: "a" or "b"
	Writes       []string
	StatsA       Stats
	StatsB       Stats
	DatagramsToB int
}

// script runs one exchange between a (at most one peer) and b through the
// reads and writes of m: packets queued before the handshake and pushed out
// of the queue, an oversized packet and one to a peer with no room, the
// handshake answered by reads, then data among replays, forgeries, junk,
// datagrams from another address (one that moves the peer, one that does
// not) and a stranger's initiation, and replies.
func script(t *testing.T, m io) (outcome, *scriptConn, *scriptConn) {
	t.Helper()
	kA, _ := keys.GenerateKey()
	kB, _ := keys.GenerateKey()
	sa, sb := &scriptConn{pipeConn: pipeConn{local: inA}}, &scriptConn{pipeConn: pipeConn{local: inB}}
	a, err := NewConn(m.inner(sa), Config{Static: kA, MaxPeers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewConn(m.inner(sb), Config{Static: kB})
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{Delivered: map[string][]string{}}
	read := func(name string, c *Conn) { o.Delivered[name] = append(o.Delivered[name], m.read(c)...) }
	packets := func(to netip.AddrPort, texts ...string) []udp.Message {
		ms := make([]udp.Message, len(texts))
		for i, s := range texts {
			ms[i] = udp.Message{Buf: []byte(s), Addr: to}
		}
		return ms
	}

	// Before a session: 20 packets queue (the first 4 pushed out), one is
	// too big, one is for a peer a has no room for.
	early := packets(inB, "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9",
		"q10", "q11", "q12", "q13", "q14", "q15", "q16", "q17", "q18", "q19")
	early = append(early, udp.Message{Buf: make([]byte, MaxPathPacket+1), Addr: inB}, udp.Message{Buf: []byte("c"), Addr: inC})
	o.Writes = append(o.Writes, m.write(a, early))
	forward(sa, sb, inA) // the initiation
	read("b", b)         // answered
	forward(sb, sa, inB)
	read("a", a) // a's XX msg3 and the queue, sealed
	forward(sa, sb, inA)
	read("b", b) // msg3 and the data after it, in one batch

	// A session: data among what must be dropped.
	o.Writes = append(o.Writes, m.write(a, packets(inB, "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7")))
	var d [][]byte
	for _, s := range sa.take() {
		d = append(d, bytes.Clone(s.b))
	}
	if len(d) != 8 {
		t.Fatalf("%s: 8 packets made %d datagrams", m.name, len(d))
	}
	tampered := bytes.Clone(d[2])
	tampered[len(tampered)-1] ^= 1
	unknown := bytes.Clone(d[5])
	unknown[2] ^= 0xff // the receiver index
	for _, g := range []struct {
		b    []byte
		from netip.AddrPort
	}{
		{d[0], inA}, {d[1], inA}, {d[1], inA}, // a replay
		{[]byte("\x01\x09junk"), inA}, {nil, inA}, {make([]byte, wire.MaxPathDatagram+1), inA},
		{tampered, inA}, {d[2], inA}, // the original still opens
		{d[3], inC}, // the newest yet, from another address: a moves there (roaming)
		{ForgeInitiation(false, keys.PublicKey{}), inC}, // a stranger's XX initiation: answered
		{d[4], inA}, // and back
		{d[1], inC}, // not the newest, from another address: wrong-address
		{unknown, inA}, {d[6], inA}, {d[0], inA}, {d[7], inA}, {d[5], inA},
	} {
		sb.put(g.b, g.from)
	}
	read("b", b)
	sb.take() // b's answer to the stranger

	// Replies.
	o.Writes = append(o.Writes, m.write(b, packets(inA, "r0", "r1", "r2")))
	forward(sb, sa, inB)
	read("a", a)

	o.StatsA, o.StatsB = a.Stats(), b.Stats()
	return o, sa, sb
}

// TestBatchLikeSingle: reading and writing in batches delivers, answers,
// drops and counts exactly what reading and writing one datagram a call
// does, over a conn that batches and over one that cannot.
func TestBatchLikeSingle(t *testing.T) {
	want, _, _ := script(t, singly)
	if n := len(want.Delivered["b"]); n != 16+8 {
		t.Fatalf("the script delivers %d packets to b, not 24: %q", n, want.Delivered["b"])
	}
	if want.StatsB.Roams != 2 {
		t.Errorf("the script moves a %d times at b, not 2", want.StatsB.Roams)
	}
	for _, reason := range []DropReason{DropQueueFull, DropOversize, DropTooManyPeers} {
		if want.StatsA.Drops[reason] == 0 {
			t.Errorf("the script makes no %s drop at a", reason)
		}
	}
	for _, reason := range []DropReason{DropReplay, DropAuth, DropType, DropMalformed, DropTooBig, DropWrongAddress, DropUnknownIndex} {
		if want.StatsB.Drops[reason] == 0 {
			t.Errorf("the script makes no %s drop at b", reason)
		}
	}
	if want.StatsB.HalfOpen != 1 {
		t.Errorf("the stranger's initiation was not answered: %d half-open", want.StatsB.HalfOpen)
	}
	for _, m := range []io{batched, batchedSingly} {
		got, sa, sb := script(t, m)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", m.name, got, want)
		}
		if m.name == batched.name && (sb.mostRead < 2 || sa.mostSent < 8) {
			t.Errorf("%s: did not batch: at most %d datagrams a read, %d a write", m.name, sb.mostRead, sa.mostSent)
		}
		if m.name == batchedSingly.name && sa.reads+sa.writes+sb.reads+sb.writes != 0 {
			t.Errorf("%s: batch calls on a conn that cannot batch", m.name)
		}
	}
}

// TestBatchAllocs: with a session, writing a batch (sealing it, one write
// of the inner conn) and reading one (one read, opening each) allocate
// nothing.
func TestBatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	const perBatch, runs = 32, 1000 // two chunks of writes, a whole batch of reads
	kA, _ := keys.GenerateKey()
	kB, _ := keys.GenerateKey()
	sa, sb := &scriptConn{pipeConn: pipeConn{local: inA}}, &scriptConn{pipeConn: pipeConn{local: inB}}
	a, _ := NewConn(sa, Config{Static: kA, KnownKey: func(netip.AddrPort) (keys.PublicKey, bool) { return kB.Public(), true }})
	b, _ := NewConn(sb, Config{Static: kB})
	ms := make([]udp.Message, perBatch)
	for i := range ms {
		ms[i] = udp.Message{Buf: bytes.Repeat([]byte{'x'}, MaxPacket), Addr: inB}
	}
	a.WriteBatch(ms[:1]) // queued; the IK initiation goes
	forward(sa, sb, inA)
	readBatches(b) // answered
	forward(sb, sa, inB)
	readBatches(a) // the session; the queued packet goes
	forward(sa, sb, inA)
	if got := readBatches(b); len(got) != 1 {
		t.Fatalf("handshake: %q", got)
	}

	if n := testing.AllocsPerRun(runs, func() {
		if n, err := a.WriteBatch(ms); n != perBatch || err != nil {
			t.Fatalf("WriteBatch: %d, %v", n, err)
		}
		sa.take()
	}); n != 0 {
		t.Errorf("WriteBatch: %v allocations", n)
	}

	for range runs + 1 { // fresh datagrams for each run and the warm-up
		a.WriteBatch(ms)
		for _, d := range sa.take() {
			sb.put(d.b, inA)
		}
	}
	in := make([]udp.Message, perBatch)
	for i := range in {
		in[i].Buf = make([]byte, wire.MaxDatagram)
	}
	if n := testing.AllocsPerRun(runs, func() {
		if n, err := b.ReadBatch(in); n != perBatch || err != nil {
			t.Fatalf("ReadBatch: %d, %v", n, err)
		}
	}); n != 0 {
		t.Errorf("ReadBatch: %v allocations", n)
	}
}
