package transport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// cable is a Conn whose writes can be cut, as when a network goes down.
type cable struct {
	udp.Conn
	cut atomic.Bool
}

func (c *cable) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.Conn.WriteTo(b, to)
}

func sendAll(t *testing.T, e *Endpoint, to netip.AddrPort, stream, from, to_ int) []uint64 {
	t.Helper()
	var refs []uint64
	for i := from; i < to_; i++ {
		ref, err := e.Send(to, transporttest.Message(stream, i, sizeOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	return refs
}

// delivered is the condition, for Recorder.WaitFor, that all of refs are
// reported delivered.
func delivered(r *transporttest.Recorder, refs []uint64) func() bool {
	return func() bool { return r.AllDelivered(refs) }
}

// A peer that restarts gets, in its new session, every message it had not
// consumed, and the sender hears it came up again.
func TestPeerRestartGetsUndelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, listen(t, n, addrA), ra, Config{})
		defer closeNow(a)
		cb := &cable{Conn: listen(t, n, addrB)}
		b := start(t, cb, rb, Config{})

		refs := sendAll(t, a, addrB, 1, 0, 10)
		ra.WaitFor(t, "first ten delivered", time.Hour, delivered(ra, refs))

		// B crashes: it says nothing more, ever.
		cb.cut.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b.Close(ctx)

		later := sendAll(t, a, addrB, 1, 10, 20)
		time.Sleep(2 * time.Second) // B is down for a while (virtual time)

		rb2 := transporttest.NewRecorder()
		b2 := start(t, listen(t, n, addrB), rb2, Config{})
		defer closeNow(b2)
		ra.WaitFor(t, "the rest delivered to the new B", time.Hour, delivered(ra, later))
		got := rb2.Received(addrA)
		if len(got) != 10 {
			t.Fatalf("new B got %d messages, want the 10 the old one never had", len(got))
		}
		for i, m := range got {
			if string(m) != string(transporttest.Message(1, 10+i, sizeOf(10+i))) {
				t.Fatalf("new B's message %d is not message %d", i, 10+i)
			}
		}
		events := ra.Events()
		ups := 0
		for _, e := range events {
			if e == "up "+addrB.String() {
				ups++
			}
		}
		if ups != 2 {
			t.Errorf("A saw B come up %d times, want 2 (first contact and restart): %v", ups, events)
		}
	})
}

// A pinned peer (Connect) that stops answering is reported unreachable;
// what is sent to it meanwhile waits, and goes when it answers again.
func TestUnreachableThenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		ca, cb := &cable{Conn: listen(t, n, addrA)}, &cable{Conn: listen(t, n, addrB)}
		cfg := Config{KeepaliveInterval: time.Second, IdleTimeout: 3 * time.Second}
		a := start(t, ca, ra, cfg)
		defer closeNow(a)
		b := start(t, cb, rb, cfg)
		defer closeNow(b)

		if err := a.Connect(addrB); err != nil {
			t.Fatal(err)
		}
		ra.WaitFor(t, "first contact", time.Hour, delivered(ra, sendAll(t, a, addrB, 1, 0, 1)))
		ca.cut.Store(true)
		cb.cut.Store(true)
		ra.WaitFor(t, "B unreachable", time.Hour, func() bool { return ra.HasEvent("unreachable " + addrB.String()) })
		refs := sendAll(t, a, addrB, 1, 1, 30)
		time.Sleep(time.Minute) // a long outage (virtual time)
		if c := rb.Count(addrA); c != 1 {
			t.Fatalf("B got %d messages through a cut cable", c)
		}
		ca.cut.Store(false)
		cb.cut.Store(false)
		// B, which did not pin A, forgot it during the outage (A kept B),
		// so A meets a new incarnation of B: a new session.
		if !rb.HasEvent("gone "+addrA.String()) || ra.HasEvent("gone "+addrB.String()) {
			t.Fatalf("after a minute's outage: A %v, B %v; want B to have forgotten A, and A to keep B", ra.Events(), rb.Events())
		}
		ra.WaitFor(t, "messages from the outage delivered", time.Hour, delivered(ra, refs))
		transporttest.CheckStream(t, rb.Received(addrA), 1, 30, sizeOf)
	})
}

// Close says goodbye: the peer hears it, and Close returns once it has.
func TestCloseSaysGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, udptest.Impair(listen(t, n, addrA), udptest.Impairment{Loss: 0.5, Seed: 7}), ra, Config{})
		b := start(t, udptest.Impair(listen(t, n, addrB), udptest.Impairment{Loss: 0.5, Seed: 8}), rb, Config{})
		defer closeNow(b)
		ra.WaitFor(t, "delivery", time.Hour, delivered(ra, sendAll(t, a, addrB, 1, 0, 5)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		rb.WaitFor(t, "goodbye", time.Hour, func() bool { return rb.HasEvent("closed " + addrA.String()) })
	})
}

// Garbage on the socket is dropped and counted; the session goes on.
func TestGarbageIsDroppedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, listen(t, n, addrA), ra, Config{})
		defer closeNow(a)
		b := start(t, listen(t, n, addrB), rb, Config{})
		defer closeNow(b)
		junk := listen(t, n, netip.MustParseAddrPort("127.0.0.1:6666"))
		defer junk.Close()
		for _, d := range [][]byte{
			{},                                   // empty
			{1},                                  // truncated
			{9, 1, 0, 0},                         // unknown version
			{1, 0x7f, 1, 2, 3},                   // unknown type
			make([]byte, wire.MaxPathDatagram+1), // oversized (and version 0)
			append([]byte{1, 1}, make([]byte, 24)...), // source epoch 0
		} {
			junk.WriteTo(d, addrA)
		}
		ra.WaitFor(t, "delivery", time.Hour, delivered(ra, sendAll(t, a, addrB, 1, 0, 100)))
		transporttest.CheckStream(t, rb.Received(addrA), 1, 100, sizeOf)
		s := a.Stats()
		if s.Dropped() < 6 || s.Drops[DropTooBig] != 1 {
			t.Errorf("dropped %d datagrams, want at least the 6 bad ones, one too big: %+v", s.Dropped(), s.Drops)
		}
	})
}

func TestSendRefusesWhatCannotGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		a := start(t, listen(t, n, addrA), transporttest.NewRecorder(), Config{MaxQueued: 3 * MaxMessage})
		if _, err := a.Send(addrB, make([]byte, MaxMessage+1)); err != ErrTooBig {
			t.Errorf("oversized: %v, want ErrTooBig", err)
		}
		if _, err := a.Send(addrB, nil); err != ErrEmpty {
			t.Errorf("empty: %v, want ErrEmpty", err)
		}
		for range 3 {
			if _, err := a.Send(addrB, make([]byte, MaxMessage)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Send(addrB, []byte("x")); err != ErrQueueFull {
			t.Errorf("over the queue bound: %v, want ErrQueueFull", err)
		}
		closeNow(a)
		if _, err := a.Send(addrB, []byte("x")); err != ErrClosed {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	})
}

// When every ACK of a peer's was lost and it leaves, its goodbye still tells
// us what it consumed: a CLOSE carries an ACK.
func TestGoodbyeCarriesTheLastAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, listen(t, n, addrA), ra, Config{})
		defer closeNow(a)
		cb := &cable{Conn: listen(t, n, addrB)}
		b := start(t, cb, rb, Config{})
		ra.WaitFor(t, "first contact", time.Hour, delivered(ra, sendAll(t, a, addrB, 1, 0, 1)))

		cb.cut.Store(true) // B's ACKs from now on are lost
		refs := sendAll(t, a, addrB, 1, 1, 2)
		rb.WaitFor(t, "B has the message", time.Hour, func() bool { return rb.Count(addrA) == 2 })
		time.Sleep(time.Second) // (virtual) B's ACKs, and its answers to A's probes, are lost
		cb.cut.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Fatal(err)
		}
		ra.WaitFor(t, "goodbye", time.Hour, func() bool { return ra.HasEvent("closed " + addrB.String()) })
		if !ra.AllDelivered(refs[:1]) {
			t.Error("B left without A learning that B had its last message")
		}
	})
}

// fullDisk is a Handler whose Receive fails, as a store on a full disk
// does, once it has taken room messages, until it is given more room.
type fullDisk struct {
	*transporttest.Recorder
	room     atomic.Int64
	refusals atomic.Int64 // calls of Receive that failed
}

func (d *fullDisk) Receive(p netip.AddrPort, msg []byte) error {
	if d.room.Add(-1) < 0 {
		d.room.Add(1)
		d.refusals.Add(1)
		return errors.New("disk full")
	}
	return d.Recorder.Receive(p, msg)
}

// A receiver that cannot store what arrives (its disk fills in the middle
// of a stream) takes it once it can, with nothing more from the sender:
// messages that came whole, out of order, had their chunks acknowledged
// and wait in its reassembly; they are offered to the handler again on a
// timer that backs off. They once waited for a new chunk that never came,
// since the sender, with nothing unacknowledged, only pinged: delivery
// stalled for good after a disk filled, even once it had room again.
func TestDeliveryResumesWhenTheDiskHasRoom(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testDeliveryResumes(t, seed) })
	}
}

func testDeliveryResumes(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra := transporttest.NewRecorder()
		rb := &fullDisk{Recorder: transporttest.NewRecorder()}
		const total, fits = 300, 100
		rb.room.Store(fits)
		// Reordering, so that later messages arrive whole, and are
		// buffered and acknowledged, before earlier ones.
		a := start(t, udptest.Impair(listen(t, n, addrA), udptest.Impairment{Reorder: 0.2, ReorderDelay: 20 * time.Millisecond, Seed: seed}), ra, Config{})
		defer closeNow(a)
		b := start(t, listen(t, n, addrB), rb, Config{})
		defer closeNow(b)

		refs := sendAll(t, a, addrB, 1, 0, total)
		rb.WaitFor(t, "the disk full", time.Hour, func() bool { return rb.Count(addrA) == fits })
		const outage = 2 * time.Minute
		time.Sleep(outage) // (virtual) the disk stays full
		if c := rb.Count(addrA); c != fits {
			t.Fatalf("B took %d messages on a disk with room for %d", c, fits)
		}
		tries := rb.refusals.Load()
		rb.room.Store(total)
		start := time.Now()
		ra.WaitFor(t, "everything delivered once the disk has room", time.Hour, delivered(ra, refs))
		took := time.Since(start)
		transporttest.CheckStream(t, rb.Received(addrA), 1, total, sizeOf)
		t.Logf("B tried %d times in %v of a full disk, and took the %d waiting messages %v after it had room", tries, outage, total-fits, took)
		if took > retryDeliverMax+time.Second {
			t.Errorf("delivery resumed %v after the disk had room, want within %v", took, retryDeliverMax+time.Second)
		}
		// Backing off: a try every retryDeliverMax at most, once the
		// delay has grown, besides those the sender's resends bring.
		if most := int64(outage/retryDeliverMax) * 4; tries > most {
			t.Errorf("B tried %d times in %v of a full disk, want at most %d", tries, outage, most)
		}
	})
}
