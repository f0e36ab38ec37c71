package udp

import (
	"net/netip"
	"sync"
)

// A socket bound to a wildcard address (0.0.0.0, ::) receives what is sent
// to any address of the machine, but the system picks the source of what it
// sends by the route to the destination alone. On a machine with several
// addresses a peer that wrote to one may get its answer from another, and
// drop it as from a stranger. So such a socket reads the address each
// datagram was sent to (IP_PKTINFO, IPV6_PKTINFO) and answers every peer
// from the address it last wrote to: srcTable is that memory.

// srcTableSize bounds one generation of a srcTable: a flood of spoofed
// sources turns the table over, and the peers that keep writing are learnt
// again from their next datagram (until then, the system picks the source,
// as it would without the table).
const srcTableSize = 2048

// localSource is the local address a peer wrote to, and for a link-local
// IPv6 address, the interface it came in on (which such an address needs to
// be used as a source).
type localSource struct {
	addr    netip.Addr
	ifindex uint32
}

// srcTable maps each peer to the localSource to answer it from. Two
// generations bound it: when the current one is full it becomes the old
// one, and the old one is cleared to be the new current one. A lookup that
// finds a peer only in the old generation moves it to the current one, so
// peers in touch within the last srcTableSize others stay. Clearing keeps
// the maps' memory, so a table in use allocates nothing.
type srcTable struct {
	mu       sync.Mutex // guards the fields below
	cur, old map[netip.AddrPort]localSource
}

func newSrcTable() *srcTable {
	return &srcTable{
		cur: make(map[netip.AddrPort]localSource),
		old: make(map[netip.AddrPort]localSource),
	}
}

// learn records that peer wrote to src.
func (t *srcTable) learn(peer netip.AddrPort, src localSource) {
	t.mu.Lock()
	if t.cur[peer] != src {
		t.putLocked(peer, src)
	}
	t.mu.Unlock()
}

// lookup returns what peer last wrote to, if it is remembered.
func (t *srcTable) lookup(peer netip.AddrPort) (localSource, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if src, ok := t.cur[peer]; ok {
		return src, true
	}
	src, ok := t.old[peer]
	if ok {
		t.putLocked(peer, src)
	}
	return src, ok
}

// forget drops peer, whose source could not be used (the address is gone):
// the system picks one until peer writes again.
func (t *srcTable) forget(peer netip.AddrPort) {
	t.mu.Lock()
	delete(t.cur, peer)
	delete(t.old, peer)
	t.mu.Unlock()
}

func (t *srcTable) putLocked(peer netip.AddrPort, src localSource) {
	if _, ok := t.cur[peer]; !ok && len(t.cur) >= srcTableSize {
		t.old, t.cur = t.cur, t.old
		clear(t.cur)
	}
	t.cur[peer] = src
	delete(t.old, peer)
}
