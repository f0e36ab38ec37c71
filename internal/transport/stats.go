package transport

import (
	"sync/atomic"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/wire"
)

// DropReason names why a datagram or frame was thrown away.
type DropReason int

// Drop reasons, each counted in Stats.Drops. The first four are wire's.
const (
	DropMalformed               = DropReason(wire.DropMalformed) // did not parse
	DropVersion                 = DropReason(wire.DropVersion)   // unknown protocol version
	DropType                    = DropReason(wire.DropType)      // unknown datagram or frame type
	DropTooBig                  = DropReason(wire.DropTooBig)    // over wire.MaxPathDatagram
	DropStale        DropReason = iota                           // from a peer's earlier incarnation, or one that left
	DropOtherEpoch                                               // addressed to an earlier incarnation of ours
	DropOverWindow                                               // chunk past the receive window; the sender will resend
	DropBogusAck                                                 // acknowledges what was never sent
	DropTooManyPeers                                             // a new address while the peer table is full
	DropNotConsumed                                              // the handler could not take a message yet; the sender will resend
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"malformed", "version", "type", "too-big", "stale", "other-epoch", "over-window", "bogus-ack", "too-many-peers", "not-consumed",
}

func (r DropReason) String() string { return dropNames[r] }

// Stats are an endpoint's counters since it started.
type Stats struct {
	DatagramsIn, DatagramsOut uint64
	BytesIn, BytesOut         uint64
	Drops                     [numDropReasons]uint64
	// Forgotten counts peers forgotten for silence (Config.ForgetAfter),
	// Evicted those that made room for a new address in a full table.
	Forgotten, Evicted uint64
	// Syncs counts the handler's Syncs that returned nil (link.Syncer:
	// with the chat node on a store, one commit each), SyncFailures the
	// others.
	Syncs, SyncFailures uint64
}

// Dropped is the total of all drops.
func (s Stats) Dropped() uint64 { return wire.Dropped(s.Drops[:]) }

// counters is Stats as the endpoint updates it (atomics, readable while it runs).
type counters struct {
	datagramsIn, datagramsOut atomic.Uint64
	bytesIn, bytesOut         atomic.Uint64
	drops                     [numDropReasons]atomic.Uint64
	forgotten, evicted        atomic.Uint64
	syncs, syncFailures       atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		DatagramsIn: c.datagramsIn.Load(), DatagramsOut: c.datagramsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Forgotten: c.forgotten.Load(), Evicted: c.evicted.Load(),
		Syncs: c.syncs.Load(), SyncFailures: c.syncFailures.Load(),
	}
	for i := range c.drops {
		s.Drops[i] = c.drops[i].Load()
	}
	return s
}

// An Endpoint is a link: the chat node runs on it.
var (
	_ link.Link      = (*Endpoint)(nil)
	_ link.Forgetter = (*Endpoint)(nil)
	_ link.Measurer  = (*Endpoint)(nil)
)
