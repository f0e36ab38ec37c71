package transport

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// The per-datagram paths, driven by hand: two endpoints built without their
// goroutines (newEndpoint) on taps, with datagrams moved between them by
// the test, on a virtual clock. No socket, no scheduler: what is measured
// is the transport's own work, and what allocates is the transport.

// tap is a udp.Conn that records what is written, in buffers it reuses.
type tap struct {
	local netip.AddrPort
	out   [][]byte
	n     int
	// mtu, if set, is the largest datagram the path carries: a larger one
	// is dropped on the way (and counted), as a router would.
	mtu     int
	dropped int
}

func (t *tap) WriteTo(b []byte, _ netip.AddrPort) (int, error) {
	if t.mtu > 0 && len(b) > t.mtu {
		t.dropped++
		return len(b), nil
	}
	if t.n == len(t.out) {
		t.out = append(t.out, make([]byte, 0, wire.MaxPathDatagram))
	}
	t.out[t.n] = append(t.out[t.n][:0], b...)
	t.n++
	return len(b), nil
}

func (t *tap) ReadFrom([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (t *tap) LocalAddr() netip.AddrPort { return t.local }
func (t *tap) Close() error              { return nil }

// batchTap is a tap that takes batches, as a udp.Socket does on Linux.
type batchTap struct{ tap }

func (t *batchTap) ReadBatch([]udp.Message) (int, error) { return 0, net.ErrClosed }
func (t *batchTap) WriteBatch(ms []udp.Message) (int, error) {
	for _, m := range ms {
		t.WriteTo(m.Buf, m.Addr)
	}
	return len(ms), nil
}

// nopHandler counts and keeps nothing.
type nopHandler struct{ received, delivered int }

func (h *nopHandler) Receive(netip.AddrPort, []byte) error { h.received++; return nil }
func (h *nopHandler) Delivered(netip.AddrPort, uint64)     { h.delivered++ }
func (h *nopHandler) PeerUp(netip.AddrPort)                {}
func (h *nopHandler) PeerClosed(netip.AddrPort)            {}
func (h *nopHandler) PeerUnreachable(netip.AddrPort)       {}
func (h *nopHandler) PeerReachable(netip.AddrPort)         {}
func (h *nopHandler) PeerGone(netip.AddrPort)              {}

// bench is endpoint A (sending to B) and endpoint B (sending to A).
type bench struct {
	a, b   *Endpoint
	ta, tb *tap
	ha, hb *nopHandler
	now    time.Time
}

// newBench makes the pair, on taps that batch writes if batch is set.
func newBench(tb testing.TB, batch bool) *bench { return newBenchWith(tb, batch, 0, Config{}) }

// newBenchMTU makes the pair on taps that carry datagrams of up to mtu
// bytes (0: any).
func newBenchMTU(tb testing.TB, batch bool, mtu int) *bench {
	return newBenchWith(tb, batch, mtu, Config{})
}

// newBenchWith makes the pair with cfg, on taps that carry datagrams of up
// to mtu bytes (0: any).
func newBenchWith(tb testing.TB, batch bool, mtu int, cfg Config) *bench {
	tb.Helper()
	x := &bench{
		ta: &tap{local: addrA, mtu: mtu}, tb: &tap{local: addrB, mtu: mtu},
		ha: &nopHandler{}, hb: &nopHandler{},
	}
	var ca, cb udp.Conn = x.ta, x.tb
	if batch {
		ba, bb := &batchTap{tap{local: addrA, mtu: mtu}}, &batchTap{tap{local: addrB, mtu: mtu}}
		x.ta, x.tb, ca, cb = &ba.tap, &bb.tap, ba, bb
	}
	var err error
	if x.a, err = newEndpoint(ca, x.ha, cfg); err != nil {
		tb.Fatal(err)
	}
	if x.b, err = newEndpoint(cb, x.hb, cfg); err != nil {
		tb.Fatal(err)
	}
	// Contact and epochs: A's contact PING, B's answer, A's answer.
	x.a.Connect(addrB)
	x.a.takeHandoffs()
	x.now = time.Now() // the contact is due from when Connect was taken
	x.flush(x.a)
	for range 4 {
		x.move(x.ta, x.b, addrA)
		x.move(x.tb, x.a, addrB)
	}
	if !x.peerA().established() || !x.peerB().established() {
		tb.Fatal("no session after the contact exchange")
	}
	x.roundTrip(msg100) // B's ACK covers A's PINGs too
	x.settle(tb)
	if n := len(x.peerA().sent); n != 0 {
		tb.Fatalf("%d packets in flight after a round trip", n)
	}
	return x
}

// settle runs round trips until neither side's path MTU search has a
// size left to try or a probe in flight: on taps that carry anything, the
// search ends at the ceiling. The clock moves on 20 ms a round, and the
// timers run, so that a lost probe is declared lost (by the time
// threshold, or after a probe timeout's PING).
func (x *bench) settle(tb testing.TB) {
	tb.Helper()
	for i := 0; x.searching(); i++ {
		if i == 200 {
			tb.Fatalf("path MTU search not done after %d rounds: A %+v, B %+v", i, x.peerA().pmtu, x.peerB().pmtu)
		}
		x.roundTrip(msg100)
		x.now = x.now.Add(20 * time.Millisecond)
		x.a.onTimers(x.now)
		x.b.onTimers(x.now)
		x.flush(x.a)
		x.flush(x.b)
		x.move(x.ta, x.b, addrA)
		x.move(x.tb, x.a, addrB)
	}
	x.roundTrip(msg100) // the last probes' ACKs
}

func (x *bench) searching() bool {
	for _, p := range []*peer{x.peerA(), x.peerB()} {
		if p.pmtu.searching() || p.pmtu.probing != 0 {
			return true
		}
	}
	return false
}

func (x *bench) peerA() *peer { return x.a.peers[addrB] } // A's state for B
func (x *bench) peerB() *peer { return x.b.peers[addrA] } // B's state for A

// flush is the end of a round of e's run loop: every peer flushed, and
// what that batched written.
func (x *bench) flush(e *Endpoint) { e.endRound(x.now) }

// move hands what t recorded to e, as e's reader would, one datagram at a
// time, then lets e answer.
func (x *bench) move(t *tap, e *Endpoint, from netip.AddrPort) {
	x.now = x.now.Add(10 * time.Microsecond)
	for i := range t.n {
		e.handle(t.out[i], from, x.now)
	}
	t.n = 0
	x.flush(e)
}

// roundTrip sends msg from A to B twice, in two packets, lets B take them
// and acknowledge both, and lets A take the ACK: the steady state of a
// conversation, two messages at a time.
func (x *bench) roundTrip(msg []byte) {
	for range 2 {
		if _, err := x.a.Send(addrB, msg); err != nil {
			panic(err)
		}
		x.a.takeHandoffs()
		x.flush(x.a)
	}
	x.move(x.ta, x.b, addrA)
	x.move(x.tb, x.a, addrB)
}

// dataPacket is a packet from A to B with packet number pn carrying one
// chunk of each of msgs, as messages seq, seq+1, ...
func (x *bench) dataPacket(b []byte, pn, seq uint64, msgs [][]byte) []byte {
	b = wire.AppendHeader(b[:0], wire.Header{SrcEpoch: x.a.epoch, DstEpoch: x.b.epoch, PacketNumber: pn})
	for i, m := range msgs {
		c := wire.ChunkFrame{Seq: seq + uint64(i), MsgLen: uint64(len(m)), Data: m}
		b = c.Append(b)
	}
	return b
}

// ackPacket is a packet from B to A acknowledging packets [smallest,
// largest] and reporting delivered messages.
func (x *bench) ackPacket(b []byte, pn, smallest, largest, delivered uint64) []byte {
	b = wire.AppendHeader(b[:0], wire.Header{SrcEpoch: x.b.epoch, DstEpoch: x.a.epoch, PacketNumber: pn})
	a := wire.AckFrame{Delivered: delivered, NumRanges: 1}
	a.Ranges[0] = wire.AckRange{Smallest: smallest, Largest: largest}
	return a.Append(b)
}

var msg100 = make([]byte, 100)

// TestHotPathsDoNotAllocate asserts zero allocations, after a warm-up, on
// the steady-state paths: Send (its copy comes from a pool of messages,
// recycled when the peer has consumed them), the hand-off, flush into a
// packet, the receiver's handling of it and its ACK, the sender's handling
// of that ACK and the delivery callback; and, alone, handling a one-chunk
// data packet (and the ACK it triggers) and handling an ACK that delivers.
// Left out: the socket (internal/udp asserts its own zero), the reader
// goroutine (its batches are pooled), and growth the warm-up absorbs — a
// new peer, queues and free lists reaching their working size, and bursts
// larger than the pools hold (a queued message is its own buffer until
// delivered). The race detector makes sync.Pool drop items, so the test
// does not run under it.
func TestHotPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) { testHotPathsDoNotAllocate(t, batch) })
	}
}

func testHotPathsDoNotAllocate(t *testing.T, batch bool) {
	x := newBench(t, batch)
	// Warm up: queues, free lists and pools reach their steady size.
	r0, d0 := x.hb.received, x.ha.delivered
	for range 1000 {
		x.roundTrip(msg100)
	}
	if x.hb.received-r0 != 2000 || x.ha.delivered-d0 != 2000 {
		t.Fatalf("warm-up: B received %d, A heard %d delivered; want 2000", x.hb.received-r0, x.ha.delivered-d0)
	}
	t.Run("send", func(t *testing.T) {
		// Send, hand-off and flush of one message into a packet; B's
		// receive and ACK; A's handling of the ACK.
		if n := testing.AllocsPerRun(1000, func() { x.roundTrip(msg100) }); n != 0 {
			t.Errorf("%v allocations per round trip of two messages, want 0", n)
		}
	})
	t.Run("probe", func(t *testing.T) {
		// A path MTU probe made due, sent, acknowledged and taken as a
		// raise, alongside a round trip of two messages.
		p := x.peerA()
		n := testing.AllocsPerRun(1000, func() {
			p.pmtu.searchAt = x.now
			x.roundTrip(msg100)
		})
		if n != 0 {
			t.Errorf("%v allocations per probe and round trip, want 0", n)
		}
		if p.pmtu.current <= wire.MaxDatagram {
			t.Errorf("probes did not come back: %+v", p.pmtu)
		}
	})
	t.Run("receive data", func(t *testing.T) {
		p := x.peerB()
		pn, _ := p.received.largest()
		seq := p.reasm.next
		var pkt []byte
		one := [][]byte{msg100}
		n := testing.AllocsPerRun(1000, func() {
			pn++
			pkt = x.dataPacket(pkt, pn, seq, one)
			seq++
			x.b.handle(pkt, addrA, x.now)
			x.flush(x.b)
			x.tb.n = 0
		})
		if n != 0 {
			t.Errorf("%v allocations handling a one-chunk message and acknowledging it, want 0", n)
		}
		x.tb.n = 0
	})
	t.Run("receive ack", func(t *testing.T) {
		// A sends packets B never sees; crafted ACKs acknowledge them.
		p := x.peerA()
		var pkt []byte
		pnB := uint64(1 << 20) // above whatever B has sent
		n := testing.AllocsPerRun(1000, func() {
			if _, err := x.a.Send(addrB, msg100); err != nil {
				panic(err)
			}
			x.a.takeHandoffs()
			x.flush(x.a)
			x.ta.n = 0
			last := p.nextPN - 1
			pnB++
			pkt = x.ackPacket(pkt, pnB, 0, last, p.delivered+1)
			x.now = x.now.Add(10 * time.Microsecond)
			x.a.handle(pkt, addrB, x.now)
		})
		if n != 0 {
			t.Errorf("%v allocations handling an ACK that delivers a message, want 0", n)
		}
	})
}

// BenchmarkRoundTrip is two 100-byte messages from A to B in two packets,
// B's ACK, and A's handling of it, per op: everything but the socket.
func BenchmarkRoundTrip(b *testing.B) {
	x := newBench(b, false)
	for range 100 {
		x.roundTrip(msg100)
	}
	b.ReportAllocs()
	for b.Loop() {
		x.roundTrip(msg100)
	}
}

// BenchmarkFlush is Send of k 100-byte messages and the flush that packs
// them into packets. Every 256 ops, one crafted ACK acknowledges and
// delivers everything (in the timing, a small share).
func BenchmarkFlush(b *testing.B) {
	for _, k := range []int{1, 10} {
		b.Run(fmt.Sprintf("msgs=%d", k), func(b *testing.B) {
			x := newBench(b, false)
			p := x.peerA()
			p.cc.(*cubic).window = 1 << 30 // measure packing, not the congestion window
			var pkt []byte
			pnB := uint64(1 << 20)
			ackAll := func() {
				pnB++
				pkt = x.ackPacket(pkt, pnB, 0, p.nextPN-1, p.nextSeq)
				x.now = x.now.Add(10 * time.Microsecond)
				x.a.handle(pkt, addrB, x.now)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				for range k {
					if _, err := x.a.Send(addrB, msg100); err != nil {
						b.Fatal(err)
					}
				}
				x.a.takeHandoffs()
				x.a.flush(p, x.now)
				x.ta.n = 0
				if i++; i%256 == 0 {
					ackAll()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/msg")
		})
	}
}

// BenchmarkHandleData is B's handling of one data packet from A, end to
// end (parse, session checks, reassembly, delivery to the handler), with
// k whole 100-byte messages in it, in order.
func BenchmarkHandleData(b *testing.B) {
	for _, k := range []int{1, 10} {
		b.Run(fmt.Sprintf("msgs=%d", k), func(b *testing.B) {
			x := newBench(b, false)
			p := x.peerB()
			pn, _ := p.received.largest()
			seq := p.reasm.next
			msgs := make([][]byte, k)
			for i := range msgs {
				msgs[i] = msg100
			}
			var pkt []byte
			b.ReportAllocs()
			for b.Loop() {
				pn++
				pkt = x.dataPacket(pkt, pn, seq, msgs)
				seq += uint64(k)
				x.b.handle(pkt, addrA, x.now)
			}
		})
	}
}

// BenchmarkHandleAck is A's handling of an ACK (parse, onAck, loss
// detection) that acknowledges the two oldest of inflight packets; two
// more packets go in flight per op, so the count stays. Each packet holds
// ten chunks.
func BenchmarkHandleAck(b *testing.B) {
	for _, inflight := range []int{16, 128, 1024} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			x := newBench(b, false)
			p := x.peerA()
			p.cc.(*cubic).window = 1 << 30
			if _, err := x.a.Send(addrB, make([]byte, MaxMessage)); err != nil {
				b.Fatal(err)
			}
			x.a.takeHandoffs()
			idx := 0
			put := func() {
				sp := p.newSentPacket()
				for range 10 {
					sp.chunks = append(sp.chunks, chunkRef{seq: p.delivered, index: idx % 257})
					idx++
				}
				sp.pn, sp.sentAt, sp.size = p.nextPN, x.now, basePacket
				p.nextPN++
				p.sent = append(p.sent, sp)
				p.cc.onSent(sp.size)
			}
			for range inflight {
				put()
			}
			oldest := p.sent[0].pn
			var pkt []byte
			pnB := uint64(1 << 20)
			b.ReportAllocs()
			for b.Loop() {
				put()
				put()
				pnB++
				x.now = x.now.Add(time.Microsecond)
				pkt = x.ackPacket(pkt, pnB, 0, oldest+1, 0)
				oldest += 2
				x.a.handle(pkt, addrB, x.now)
			}
			if len(p.sent) != inflight {
				b.Fatalf("%d in flight at the end, want %d", len(p.sent), inflight)
			}
		})
	}
}

// BenchmarkReassembly is reassembly alone: whole one-chunk messages in
// order (no copy), pairs of them swapped (one held, then both delivered),
// and 256 KiB messages chunk by chunk (per op: one message).
func BenchmarkReassembly(b *testing.B) {
	deliver := func([]byte) error { return nil }
	b.Run("inorder-small", func(b *testing.B) {
		var r reassembly
		c := wire.ChunkFrame{MsgLen: 100, Data: msg100}
		b.ReportAllocs()
		for b.Loop() {
			if err := r.add(&c, deliver); err != nil {
				b.Fatal(err)
			}
			c.Seq++
		}
	})
	b.Run("outoforder-small", func(b *testing.B) {
		var r reassembly
		c := wire.ChunkFrame{MsgLen: 100, Data: msg100}
		var seq uint64
		b.ReportAllocs()
		for b.Loop() {
			c.Seq = seq + 1
			if err := r.add(&c, deliver); err != nil {
				b.Fatal(err)
			}
			c.Seq = seq
			if err := r.add(&c, deliver); err != nil {
				b.Fatal(err)
			}
			seq += 2
		}
	})
	b.Run("256KiB", func(b *testing.B) {
		var r reassembly
		big := make([]byte, 256<<10)
		chunks := chunksOf(0, big)
		b.SetBytes(int64(len(big)))
		b.ReportAllocs()
		for b.Loop() {
			for i := range chunks {
				if err := r.add(&chunks[i], deliver); err != nil {
					b.Fatal(err)
				}
				chunks[i].Seq++
			}
		}
	})
}

// BenchmarkMemoryPerPeer is the heap one endpoint holds per peer once each
// peer's session has settled after a little traffic: ten 100-byte
// messages each way, all delivered and acknowledged. The peers' own
// endpoints are dropped before the heap is measured, so what remains is
// the hub's state for them (B/peer).
func BenchmarkMemoryPerPeer(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			var perPeer float64
			for b.Loop() {
				perPeer = heapPerPeer(b, n)
			}
			b.ReportMetric(perPeer, "B/peer")
		})
	}
}

func heapPerPeer(tb testing.TB, n int) float64 {
	settle := func() uint64 {
		var ms runtime.MemStats
		for range 3 { // sync.Pool keeps what it holds for two cycles
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	hubTap := &tap{local: netip.MustParseAddrPort("10.0.0.1:7475")}
	hub, err := newEndpoint(hubTap, &nopHandler{}, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	before := settle()
	now := time.Now()
	for i := range n {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 7475)
		t := &tap{local: addr}
		e, err := newEndpoint(t, &nopHandler{}, Config{})
		if err != nil {
			tb.Fatal(err)
		}
		move := func(from *tap, to *Endpoint, src netip.AddrPort) {
			now = now.Add(time.Millisecond)
			for j := range from.n {
				to.handle(from.out[j], src, now)
			}
			from.n = 0
			to.endRound(now)
		}
		for range 10 {
			if _, err := e.Send(hubTap.local, msg100); err != nil {
				tb.Fatal(err)
			}
			if _, err := hub.Send(addr, msg100); err != nil {
				tb.Fatal(err)
			}
		}
		e.takeHandoffs()
		hub.takeHandoffs()
		for _, p := range e.peers {
			p.contactDue = now
		}
		for _, p := range hub.peers {
			p.contactDue = now
		}
		for range 20 { // contact, data, ACKs, and the delayed ACKs' timers
			move(t, hub, addr)
			move(hubTap, e, hubTap.local)
			now = now.Add(2 * ackDelay)
			hub.onTimers(now)
			e.onTimers(now)
		}
		p := hub.peers[addr]
		if p == nil || p.queue.len() != 0 || p.reasm.next != 10 {
			tb.Fatalf("peer %d did not settle: %+v", i, p)
		}
	}
	hubTap.out, hubTap.n = nil, 0 // the test's copies of what the hub sent
	after := settle()
	runtime.KeepAlive(hub)
	return float64(int64(after)-int64(before)) / float64(n)
}
