package chat

import "sync/atomic"

// Stats counts what the node did with what its link handed it, for tests and
// diagnostics.
type Stats struct {
	// Received counts chat messages decoded, hellos included.
	Received uint64
	// Undecodable counts payloads dropped because they did not decode: a
	// buggy or hostile peer, never a reason to stop.
	Undecodable uint64
	// EventsDropped counts events dropped because the node was closing and
	// Events was full (see Node.Close).
	EventsDropped uint64
	// Duplicates counts messages the store already had (sent again after
	// a restart), acknowledged and not shown again.
	Duplicates uint64
	// StoreErrors counts failed writes of received messages to the store.
	StoreErrors uint64
	// Refused counts messages not accepted because the sender's key may not
	// use the name it gave (see PeerCheck); each is offered again.
	Refused uint64
	// Empty counts plain datagrams dropped because they held nothing (or
	// only a line end): no message to show.
	Empty uint64
}

// counters are the live values behind Stats; they are atomic so the hot
// paths need not take Node.mu for them.
type counters struct {
	received      atomic.Uint64
	undecodable   atomic.Uint64
	eventsDropped atomic.Uint64
	duplicates    atomic.Uint64
	storeErrors   atomic.Uint64
	refused       atomic.Uint64
	empty         atomic.Uint64
}

// Stats returns the node's counters so far.
func (n *Node) Stats() Stats {
	return Stats{
		Received:      n.stats.received.Load(),
		Undecodable:   n.stats.undecodable.Load(),
		EventsDropped: n.stats.eventsDropped.Load(),
		Duplicates:    n.stats.duplicates.Load(),
		StoreErrors:   n.stats.storeErrors.Load(),
		Refused:       n.stats.refused.Load(),
		Empty:         n.stats.empty.Load(),
	}
}
