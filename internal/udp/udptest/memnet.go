package udptest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/udpchat/udpchat/internal/udp"
)

// maxDatagram is the largest UDP payload over IPv4 (65535 - 20 - 8); the
// in-memory network refuses bigger ones as a real socket would.
const maxDatagram = 65507

// memQueueLen bounds each in-memory conn's receive queue, in datagrams, the
// way a socket buffer bounds a real one: a reader that falls behind loses
// datagrams instead of growing memory.
const memQueueLen = 4096

// Ephemeral ports handed out for Listen with port 0 (the IANA range).
const (
	memFirstPort = 49152
	memLastPort  = 65535
)

// MemNetwork is an in-memory UDP network for tests: conns on it exchange
// datagrams through bounded channels, with no sockets and no goroutines, so
// it works inside a testing/synctest bubble, where time is virtual and a
// test of retransmission over a lossy link (see Impair) runs in
// milliseconds and the same way every time. Like UDP, it drops silently: a
// datagram to an address nobody listens on, or to a full receive queue, is
// lost. It never reorders or duplicates on its own; Impair does.
//
// Inside a bubble, create the conns in the bubble that uses them (their
// channels belong to the bubble that made them). The zero value is ready to
// use.
type MemNetwork struct {
	mu       sync.Mutex // guards the fields below
	conns    map[netip.AddrPort]*memConn
	nextPort uint16 // where the search for a free ephemeral port starts
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork { return &MemNetwork{} }

// Listen attaches a conn at addr, which must be a specific address (the
// network has no interfaces to bind "all" of, and a conn's address is the
// source its datagrams carry). Port 0 picks a free ephemeral port, cycling
// through the range so a port just closed is not reused at once. An address
// already taken is an error matching udp.ErrAddrInUse, as with udp.Listen.
//
// Each conn queues up to 4096 datagrams; beyond that it drops, as a full
// socket buffer does.
func (n *MemNetwork) Listen(addr netip.AddrPort) (udp.Conn, error) {
	ip := addr.Addr().Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		return nil, fmt.Errorf("memnet: listen %s: %w: need a specific IP, e.g. 10.0.0.1:7475", addr, udp.ErrBadAddress)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = make(map[netip.AddrPort]*memConn)
	}
	local := netip.AddrPortFrom(ip, addr.Port())
	if addr.Port() == 0 {
		port, ok := n.freePort(ip)
		if !ok {
			return nil, fmt.Errorf("memnet: listen %s: no free ephemeral port", addr)
		}
		local = netip.AddrPortFrom(ip, port)
	} else if _, taken := n.conns[local]; taken {
		return nil, fmt.Errorf("memnet: listen %s: %w", local, udp.ErrAddrInUse)
	}
	c := &memConn{
		net:   n,
		queue: make(chan memDatagram, memQueueLen),
		done:  make(chan struct{}),
	}
	c.local.Store(&local)
	n.conns[local] = c
	return c, nil
}

// Move gives conn, one of n's, the address to, as when a host's address
// changes (a laptop that changes networks) or a NAT maps its socket anew:
// from now on its datagrams carry the source to, datagrams to its old
// address are lost, and those already queued for it are still read.
// Port 0 picks a free ephemeral port on to's IP. An address already taken
// is an error matching udp.ErrAddrInUse.
func (n *MemNetwork) Move(conn udp.Conn, to netip.AddrPort) (netip.AddrPort, error) {
	c, ok := conn.(*memConn)
	if !ok || c.net != n {
		return netip.AddrPort{}, fmt.Errorf("memnet: move %v: not a conn of this network", conn.LocalAddr())
	}
	ip := to.Addr().Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("memnet: move to %s: %w: need a specific IP", to, udp.ErrBadAddress)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := *c.local.Load()
	if n.conns[old] != c {
		return netip.AddrPort{}, fmt.Errorf("memnet: move %s: %w", old, net.ErrClosed)
	}
	local := netip.AddrPortFrom(ip, to.Port())
	if to.Port() == 0 {
		port, ok := n.freePort(ip)
		if !ok {
			return netip.AddrPort{}, fmt.Errorf("memnet: move to %s: no free ephemeral port", to)
		}
		local = netip.AddrPortFrom(ip, port)
	} else if _, taken := n.conns[local]; taken {
		return netip.AddrPort{}, fmt.Errorf("memnet: move to %s: %w", local, udp.ErrAddrInUse)
	}
	delete(n.conns, old)
	n.conns[local] = c
	c.local.Store(&local)
	return local, nil
}

// freePort finds an unused ephemeral port on ip. n.mu must be held.
func (n *MemNetwork) freePort(ip netip.Addr) (uint16, bool) {
	const size = memLastPort - memFirstPort + 1
	for range size {
		if n.nextPort < memFirstPort {
			n.nextPort = memFirstPort
		}
		p := n.nextPort
		n.nextPort++ // wraps to 0 after 65535, reset above
		if _, taken := n.conns[netip.AddrPortFrom(ip, p)]; !taken {
			return p, true
		}
	}
	return 0, false
}

// lookup returns the conn at addr, or nil.
func (n *MemNetwork) lookup(addr netip.AddrPort) *memConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns[addr]
}

// remove detaches c, if it is still the conn at its address.
func (n *MemNetwork) remove(c *memConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if local := *c.local.Load(); n.conns[local] == c {
		delete(n.conns, local)
	}
}

// memDatagram is one datagram in flight. buf is the sender's copy, owned by
// the queue until a reader takes it.
type memDatagram struct {
	buf  *[]byte
	from netip.AddrPort
}

// memBufSize covers every datagram udpchat sends (at most 1200 bytes) with
// room to spare, so those copies come from the pool; bigger ones are
// allocated.
const memBufSize = 2048

var memBufs = sync.Pool{New: func() any { b := make([]byte, memBufSize); return &b }}

// memConn is one end on a MemNetwork. queue is never closed (a writer may
// still hold c after Close); done is closed once, by Close. local changes
// only by MemNetwork.Move, under the network's lock; writers read it
// without.
type memConn struct {
	net       *MemNetwork
	local     atomic.Pointer[netip.AddrPort]
	queue     chan memDatagram
	done      chan struct{}
	closeOnce sync.Once
}

func (c *memConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	// Once closed, say so even if datagrams are still queued, as a closed
	// socket does.
	select {
	case <-c.done:
		return 0, netip.AddrPort{}, c.closedErr("read")
	default:
	}
	select {
	case d := <-c.queue:
		// Like UDP: what does not fit in b is lost.
		n := copy(b, *d.buf)
		if cap(*d.buf) == memBufSize {
			*d.buf = (*d.buf)[:memBufSize]
			memBufs.Put(d.buf)
		}
		return n, d.from, nil
	case <-c.done:
		return 0, netip.AddrPort{}, c.closedErr("read")
	}
}

func (c *memConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	select {
	case <-c.done:
		return 0, c.closedErr("write")
	default:
	}
	if len(b) > maxDatagram {
		// What a real socket says (EMSGSIZE), so callers handle both alike.
		return 0, fmt.Errorf("memnet: write to %s: %d bytes: %w", addr, len(b), syscall.EMSGSIZE)
	}
	if !addr.IsValid() {
		return 0, fmt.Errorf("memnet: write to %v: no destination address", addr)
	}
	dst := c.net.lookup(udp.Unmap(addr))
	if dst == nil {
		return len(b), nil // nobody there: lost, as UDP loses it
	}
	var buf *[]byte
	if len(b) <= memBufSize {
		buf = memBufs.Get().(*[]byte)
		*buf = (*buf)[:len(b)]
	} else {
		nb := make([]byte, len(b))
		buf = &nb
	}
	copy(*buf, b)
	select {
	case dst.queue <- memDatagram{buf: buf, from: *c.local.Load()}:
	default:
		// Receive queue full: dropped, as by a full socket buffer.
	}
	return len(b), nil
}

func (c *memConn) LocalAddr() netip.AddrPort { return *c.local.Load() }

// Close detaches the conn, so datagrams to its address are dropped and the
// address can be listened on again, and unblocks ReadFrom. Closing twice
// returns an error wrapping net.ErrClosed.
func (c *memConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		close(c.done)
		c.net.remove(c)
		first = true
	})
	if !first {
		return c.closedErr("close")
	}
	return nil
}

func (c *memConn) closedErr(op string) error {
	return fmt.Errorf("memnet: %s %s: %w", op, c.LocalAddr(), net.ErrClosed)
}
