package secure

import (
	"sync/atomic"

	"github.com/udpchat/udpchat/internal/wire"
)

// DropReason names why a datagram (or, for the outbound reasons, a packet)
// was thrown away.
type DropReason int

// Drop reasons, each counted in Stats.Drops. The first four are wire's.
const (
	DropMalformed                = DropReason(wire.DropMalformed) // did not parse: wrong length, bad padding
	DropVersion                  = DropReason(wire.DropVersion)   // unknown protocol version
	DropType                     = DropReason(wire.DropType)      // not a secure datagram (e.g. an unencrypted udpchat packet)
	DropTooBig                   = DropReason(wire.DropTooBig)    // over wire.MaxPathDatagram (data), wire.MaxDatagram (handshakes)
	DropMAC1          DropReason = iota                           // initiation with a wrong mac1: junk, or meant for another key
	DropAuth                                                      // data that failed to authenticate: forged or corrupted
	DropHandshakeAuth                                             // handshake message that failed Noise processing
	DropReplay                                                    // data counter already seen, or too old for the window
	DropUnknownIndex                                              // no session or handshake of ours has that index
	DropWrongAddress                                              // an index of ours, but from another address than its peer's
	DropExpired                                                   // data on a session past RejectAfterTime
	DropRateLimited                                               // initiation over its source's rate limit
	DropHalfOpenFull                                              // initiation while MaxHalfOpen handshakes are pending
	DropRefused                                                   // Verify refused the peer's key
	DropTooManyPeers                                              // a new peer while MaxPeers are in the table
	DropBadCookie                                                 // cookie reply that did not decrypt for our initiation
	DropQueueFull                                                 // outbound: a packet pushed out of a full handshake queue
	DropOversize                                                  // outbound: packet + Overhead over wire.MaxPathDatagram
	DropHandshakeLost                                             // outbound: queued packets dropped with a handshake given up
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"malformed", "version", "type", "too-big", "mac1", "auth", "handshake-auth", "replay", "unknown-index",
	"wrong-address", "expired", "rate-limited", "half-open-full", "refused", "too-many-peers", "bad-cookie",
	"queue-full", "oversize", "handshake-lost",
}

func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// Stats are a Conn's counters since it started, and the current sizes of its
// tables.
type Stats struct {
	DatagramsIn, DatagramsOut uint64 // at the socket, all kinds
	PacketsIn, PacketsOut     uint64 // transport packets opened and sealed
	Drops                     [numDropReasons]uint64

	HandshakesStarted   uint64 // initiations we sent (retries included)
	HandshakesCompleted uint64 // sessions made, either side
	Rekeys              uint64 // sessions that replaced a live one
	Fallbacks           uint64 // IK given up for XX
	CookiesSent         uint64 // cookie replies, instead of handshake work
	CookiesReceived     uint64
	RefusedBy           uint64 // authentic refusals of our key by peers (Config.PeerRefused)
	// Evicted counts peers dropped to make room in a full table, Forgotten
	// those the layer above forgot (Forget).
	Evicted, Forgotten uint64
	// Roams counts peers moved to a new endpoint (Conn.OnRoam).
	Roams uint64

	// Table sizes now: the bounds the Config sets hold for these. Roamed
	// is how many peers are away from their handle (at most Peers).
	Peers, Roamed, HalfOpen, Indexes, RateLimitSources int
}

// Dropped is the total of all drops.
func (s Stats) Dropped() uint64 { return wire.Dropped(s.Drops[:]) }

// counters is Stats as the Conn updates it: atomics, readable at any time.
type counters struct {
	datagramsIn, datagramsOut atomic.Uint64
	packetsIn, packetsOut     atomic.Uint64
	drops                     [numDropReasons]atomic.Uint64
	hsStarted, hsCompleted    atomic.Uint64
	rekeys, fallbacks         atomic.Uint64
	cookiesSent, cookiesRecv  atomic.Uint64
	refusals                  atomic.Uint64
	evicted, forgotten        atomic.Uint64
	roams                     atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		DatagramsIn: c.datagramsIn.Load(), DatagramsOut: c.datagramsOut.Load(),
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		HandshakesStarted: c.hsStarted.Load(), HandshakesCompleted: c.hsCompleted.Load(),
		Rekeys: c.rekeys.Load(), Fallbacks: c.fallbacks.Load(),
		CookiesSent: c.cookiesSent.Load(), CookiesReceived: c.cookiesRecv.Load(),
		RefusedBy: c.refusals.Load(),
		Evicted:   c.evicted.Load(), Forgotten: c.forgotten.Load(),
		Roams: c.roams.Load(),
	}
	for i := range c.drops {
		s.Drops[i] = c.drops[i].Load()
	}
	return s
}
