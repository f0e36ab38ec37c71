package udptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
)

// memListen attaches a conn or fails the test.
func memListen(t testing.TB, n *MemNetwork, addr string) udp.Conn {
	t.Helper()
	c, err := n.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatalf("Listen(%s): %v", addr, err)
	}
	return c
}

// recorder reads c until it is closed, keeping what arrived. Under synctest,
// after synctest.Wait the reader is blocked in ReadFrom, so got is complete.
type recorder struct {
	mu   sync.Mutex // guards got
	got  []arrival
	done chan struct{} // closed when the reader has returned
	err  error         // what ended ReadFrom; read after done
}

type arrival struct {
	data string
	addr netip.AddrPort // source for a recorder, destination for a sink
	at   time.Time
}

func record(c udp.Conn) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, maxDatagram+1)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				r.err = err
				return
			}
			r.mu.Lock()
			r.got = append(r.got, arrival{string(buf[:n]), from, time.Now()})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) arrivals() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]arrival(nil), r.got...)
}

func TestMemNetDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		a := memListen(t, n, "10.0.0.1:1000")
		b := memListen(t, n, "10.0.0.2:2000")
		ra, rb := record(a), record(b)

		msg := []byte("hello")
		if k, err := a.WriteTo(msg, b.LocalAddr()); err != nil || k != len(msg) {
			t.Fatalf("WriteTo = %d, %v", k, err)
		}
		msg[0] = 'J' // the network holds a copy, not the caller's buffer
		if _, err := b.WriteTo([]byte("reply"), a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		// A conn can send to itself, as a socket can.
		if _, err := a.WriteTo([]byte("self"), a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		if got := rb.arrivals(); len(got) != 1 || got[0].data != "hello" || got[0].addr != a.LocalAddr() {
			t.Errorf("b got %v, want hello from %v", got, a.LocalAddr())
		}
		got := ra.arrivals()
		if len(got) != 2 || got[0].data != "reply" || got[0].addr != b.LocalAddr() || got[1].data != "self" {
			t.Errorf("a got %v, want reply from %v, then self", got, b.LocalAddr())
		}
		a.Close()
		b.Close()
		<-ra.done
		<-rb.done
	})
}

func TestMemNetOrderPreserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		a := memListen(t, n, "10.0.0.1:1")
		b := memListen(t, n, "10.0.0.2:1")
		for i := range 100 {
			a.WriteTo(fmt.Appendf(nil, "%d", i), b.LocalAddr())
		}
		buf := make([]byte, 16)
		for i := range 100 {
			k, _, err := b.ReadFrom(buf)
			if err != nil || string(buf[:k]) != fmt.Sprint(i) {
				t.Fatalf("datagram %d: %q, %v", i, buf[:k], err)
			}
		}
		a.Close()
		b.Close()
	})
}

func TestMemNetUnknownDestinationDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		a := memListen(t, n, "10.0.0.1:1000")
		// Like UDP: no error, nothing delivered anywhere.
		if k, err := a.WriteTo([]byte("void"), netip.MustParseAddrPort("10.0.0.9:9")); err != nil || k != 4 {
			t.Fatalf("WriteTo unknown = %d, %v; want 4, nil", k, err)
		}
		// A closed conn's address is unknown again.
		b := memListen(t, n, "10.0.0.2:2000")
		rb := record(b)
		b.Close()
		<-rb.done
		if _, err := a.WriteTo([]byte("late"), b.LocalAddr()); err != nil {
			t.Fatalf("WriteTo closed peer: %v", err)
		}
		// Its address can be taken again, and the new conn gets only what
		// is sent from now on.
		b2 := memListen(t, n, "10.0.0.2:2000")
		rb2 := record(b2)
		a.WriteTo([]byte("new"), b2.LocalAddr())
		synctest.Wait()
		if got := rb2.arrivals(); len(got) != 1 || got[0].data != "new" {
			t.Errorf("new conn got %v, want just new", got)
		}
		a.Close()
		b2.Close()
		<-rb2.done
	})
}

func TestMemNetCloseUnblocksRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		c := memListen(t, n, "10.0.0.1:1")
		r := record(c)
		synctest.Wait() // the reader is now blocked in ReadFrom
		select {
		case <-r.done:
			t.Fatal("ReadFrom returned before Close")
		default:
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		<-r.done
		if !errors.Is(r.err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", r.err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v, want net.ErrClosed", err)
		}
		if _, err := c.WriteTo([]byte("x"), c.LocalAddr()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteTo after Close: %v, want net.ErrClosed", err)
		}
		if _, _, err := c.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
		}
	})
}

// Datagrams still queued when a conn closes are not read: a closed socket
// reads nothing.
func TestMemNetClosedDiscardsQueue(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	a.WriteTo([]byte("queued"), b.LocalAddr())
	b.Close()
	if _, _, err := b.ReadFrom(make([]byte, 16)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom = %v, want net.ErrClosed", err)
	}
	a.Close()
}

func TestMemNetQueueBound(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	// Nobody reads: the queue fills, and the rest is dropped without error.
	for i := range memQueueLen + 10 {
		if _, err := a.WriteTo(fmt.Appendf(nil, "%d", i), b.LocalAddr()); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	mc := b.(*memConn)
	if got := len(mc.queue); got != memQueueLen {
		t.Fatalf("queued %d, want %d", got, memQueueLen)
	}
	// What is queued is the first memQueueLen, in order.
	buf := make([]byte, 16)
	for i := range memQueueLen {
		k, _, _ := b.ReadFrom(buf)
		if string(buf[:k]) != fmt.Sprint(i) {
			t.Fatalf("datagram %d is %q", i, buf[:k])
		}
	}
	if len(mc.queue) != 0 {
		t.Errorf("%d more queued, want 0", len(mc.queue))
	}
}

func TestMemNetTooBig(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	if _, err := a.WriteTo(make([]byte, maxDatagram+1), b.LocalAddr()); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteTo %d bytes: %v, want EMSGSIZE", maxDatagram+1, err)
	}
	// The largest one goes through whole (and is not pooled).
	big := bytes.Repeat([]byte{7}, maxDatagram)
	if _, err := a.WriteTo(big, b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxDatagram+100)
	if k, _, err := b.ReadFrom(buf); err != nil || !bytes.Equal(buf[:k], big) {
		t.Errorf("read %d bytes, %v; want %d", k, err, maxDatagram)
	}
}

// A buffer too small for the datagram gets its start; the rest is lost, as
// with a real UDP socket.
func TestMemNetTruncates(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	a.WriteTo([]byte("0123456789"), b.LocalAddr())
	a.WriteTo([]byte("next"), b.LocalAddr())
	buf := make([]byte, 4)
	if k, _, _ := b.ReadFrom(buf); string(buf[:k]) != "0123" {
		t.Errorf("got %q, want 0123", buf[:k])
	}
	if k, _, _ := b.ReadFrom(buf); string(buf[:k]) != "next" {
		t.Errorf("got %q, want next", buf[:k])
	}
}

func TestMemNetListen(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:7475")
	defer a.Close()

	if _, err := n.Listen(netip.MustParseAddrPort("10.0.0.1:7475")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Errorf("Listen on a taken address: %v, want udp.ErrAddrInUse", err)
	}
	// The same address written IPv4-mapped is the same address.
	if _, err := n.Listen(netip.MustParseAddrPort("[::ffff:10.0.0.1]:7475")); !errors.Is(err, udp.ErrAddrInUse) {
		t.Errorf("Listen on the mapped form of a taken address: %v, want udp.ErrAddrInUse", err)
	}
	for _, bad := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:1"), netip.MustParseAddrPort("[::]:1")} {
		if c, err := n.Listen(bad); !errors.Is(err, udp.ErrBadAddress) {
			t.Errorf("Listen(%v) = %v, want udp.ErrBadAddress", bad, err)
			if c != nil {
				c.Close()
			}
		}
	}

	// Port 0 picks distinct free ports in the ephemeral range.
	seen := map[netip.AddrPort]bool{}
	var conns []udp.Conn
	for range 5 {
		c := memListen(t, n, "10.0.0.1:0")
		conns = append(conns, c)
		p := c.LocalAddr()
		if p.Port() < memFirstPort || seen[p] || p.Addr() != netip.MustParseAddr("10.0.0.1") {
			t.Errorf("port 0 gave %v", p)
		}
		seen[p] = true
	}
	// A closed port is not handed out again at once.
	last := conns[len(conns)-1].LocalAddr()
	conns[len(conns)-1].Close()
	if c := memListen(t, n, "10.0.0.1:0"); c.LocalAddr() == last {
		t.Errorf("port 0 reused %v just after it closed", last)
	} else {
		c.Close()
	}
	for _, c := range conns[:len(conns)-1] {
		c.Close()
	}
}

func TestMemNetEphemeralExhaustion(t *testing.T) {
	n := NewMemNetwork()
	var conns []udp.Conn
	const size = memLastPort - memFirstPort + 1
	for range size {
		conns = append(conns, memListen(t, n, "10.0.0.1:0"))
	}
	if _, err := n.Listen(netip.MustParseAddrPort("10.0.0.1:0")); err == nil {
		t.Error("Listen with every ephemeral port taken succeeded")
	}
	// Another IP has its own ports.
	c := memListen(t, n, "10.0.0.2:0")
	c.Close()
	for _, c := range conns {
		c.Close()
	}
}

// IPv4 destinations written in mapped form reach the IPv4 conn, as they do
// on a dual-stack socket.
func TestMemNetMappedDestination(t *testing.T) {
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	a.WriteTo([]byte("m"), netip.MustParseAddrPort("[::ffff:10.0.0.2]:1"))
	if k, from, err := b.ReadFrom(make([]byte, 4)); err != nil || k != 1 || from != a.LocalAddr() {
		t.Errorf("ReadFrom = %d, %v, %v", k, from, err)
	}
}

func TestMemNetConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		dst := memListen(t, n, "10.0.0.100:1")
		r := record(dst)
		const writers, each = 8, 200
		var wg sync.WaitGroup
		for w := range writers {
			src := memListen(t, n, fmt.Sprintf("10.0.0.%d:1", w+1))
			wg.Go(func() {
				defer src.Close()
				for i := range each {
					src.WriteTo(fmt.Appendf(nil, "%d/%d", w, i), dst.LocalAddr())
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		got := r.arrivals()
		if len(got) != writers*each {
			t.Fatalf("got %d datagrams, want %d", len(got), writers*each)
		}
		// Per sender, in order.
		next := map[netip.AddrPort]int{}
		for _, a := range got {
			var w, i int
			fmt.Sscanf(a.data, "%d/%d", &w, &i)
			if i != next[a.addr] {
				t.Fatalf("from %v: %q after %d", a.addr, a.data, next[a.addr]-1)
			}
			next[a.addr]++
		}
		dst.Close()
		<-r.done
	})
}

func TestMemNetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	n := NewMemNetwork()
	a := memListen(t, n, "10.0.0.1:1")
	b := memListen(t, n, "10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	CheckWriteReadAllocs(t, "memnet", a, b)
}

func BenchmarkMemNet(b *testing.B) {
	n := NewMemNetwork()
	src := memListen(b, n, "10.0.0.1:1")
	dst := memListen(b, n, "10.0.0.2:1")
	defer src.Close()
	defer dst.Close()
	BenchWriteRead(b, src, dst)
}

// TestMemNetMove: a moved conn sends from its new address and receives
// there; its old address is free, and what was queued before the move is
// still read.
func TestMemNetMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewMemNetwork()
		a := memListen(t, n, "10.0.0.1:1000")
		b := memListen(t, n, "10.0.0.2:2000")
		c := memListen(t, n, "10.0.0.3:3000")
		old := a.LocalAddr()
		b.WriteTo([]byte("before"), old)
		synctest.Wait()

		if _, err := n.Move(a, c.LocalAddr()); !errors.Is(err, udp.ErrAddrInUse) {
			t.Errorf("Move to a taken address: %v, want ErrAddrInUse", err)
		}
		if _, err := n.Move(b, netip.MustParseAddrPort("0.0.0.0:1")); !errors.Is(err, udp.ErrBadAddress) {
			t.Errorf("Move to 0.0.0.0: %v, want ErrBadAddress", err)
		}
		if _, err := NewMemNetwork().Move(a, netip.MustParseAddrPort("10.0.0.9:1")); err == nil {
			t.Error("Move on another network: no error")
		}
		to, err := n.Move(a, netip.MustParseAddrPort("10.0.0.99:0"))
		if err != nil {
			t.Fatal(err)
		}
		if a.LocalAddr() != to || to.Addr() != netip.MustParseAddr("10.0.0.99") || to.Port() == 0 {
			t.Fatalf("after Move: LocalAddr %v, Move returned %v", a.LocalAddr(), to)
		}
		ra, rb := record(a), record(b)
		b.WriteTo([]byte("lost"), old)
		b.WriteTo([]byte("after"), to)
		a.WriteTo([]byte("from new"), b.LocalAddr())
		synctest.Wait()
		if got := ra.arrivals(); len(got) != 2 || got[0].data != "before" || got[1].data != "after" {
			t.Errorf("a got %v, want before (queued ahead of the move), then after", got)
		}
		if got := rb.arrivals(); len(got) != 1 || got[0].addr != to {
			t.Errorf("b got %v, want one datagram from %v", got, to)
		}
		if o := memListen(t, n, old.String()); o.LocalAddr() != old {
			t.Errorf("the old address is not free: %v", o.LocalAddr())
		}
		a.Close()
		b.Close()
		c.Close()
		<-ra.done
		<-rb.done
		if _, err := n.Move(a, netip.MustParseAddrPort("10.0.0.98:1")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Move of a closed conn: %v, want net.ErrClosed", err)
		}
	})
}
